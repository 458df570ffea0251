/**
 * Types of the npm package `marked-man` 2.1.1 (it ships none): its default
 * export is a `marked` extension whose renderer writes roff (man(7) macros)
 * instead of HTML, plus the options `date`, `manVersion`, `manual`, `name`
 * and `section` for the page header and footer.
 * @module
 */
import type { MarkedExtension } from "marked";

declare const markedMan: MarkedExtension;
export default markedMan;
