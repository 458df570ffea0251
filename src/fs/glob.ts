/**
 * Shell-style globs over the tree of an unmounted filesystem, for commands
 * that take many paths inside an image (`vexfs vector delete IMG '/docs/*.md'`),
 * where no shell can expand them. Per component, as sh(1) and glob(7):
 * `*` any run of characters, `?` one character, `[abc]`, `[a-z]`, `[!abc]`
 * one of a set; a leading `.` is matched only by a pattern that starts with
 * `.`; a whole component `**` matches any number of directories (zero
 * included), as in bash's globstar.
 * @module
 */
import type { Vexfs } from "./fs.ts";
import { S_IFDIR, S_IFMT } from "../format/constants.ts";

/** Whether `s` has a glob character (`*`, `?` or `[`). */
export function hasGlob(s: string): boolean {
  return /[*?[]/.test(s);
}

/**
 * The regular expression of one glob component (no `/`).
 * @throws SyntaxError never for `[` without `]`: it then matches itself
 */
export function globComponent(p: string): RegExp {
  let re = "";
  for (let i = 0; i < p.length; i++) {
    const ch = p[i];
    if (ch === "*") re += ".*";
    else if (ch === "?") re += ".";
    else if (ch === "[") {
      const end = p.indexOf("]", i + 2);
      if (end < 0) {
        re += "\\[";
        continue;
      }
      let set = p.slice(i + 1, end);
      const neg = set[0] === "!" || set[0] === "^";
      if (neg) set = set.slice(1);
      re += `[${neg ? "^" : ""}${set.replace(/[\\\]]/g, "\\$&")}]`;
      i = end;
    } else re += ch.replace(/[.+^${}()|\\\]]/g, "\\$&");
  }
  return new RegExp(`^${re}$`, "s");
}

/**
 * Every path of the filesystem matching absolute glob `pattern`, sorted;
 * components without glob characters are looked up as they are (a missing
 * one gives no match).
 * @returns absolute paths inside the filesystem
 */
export function expandGlob(fs: Vexfs, pattern: string): string[] {
  const parts = pattern.split("/").filter((p) => p !== "" && p !== ".");
  const out = new Set<string>();
  const isDir = (ino: number) => (fs.getattr(ino).mode & S_IFMT) === S_IFDIR;
  const walk = (ino: number, path: string, i: number): void => {
    if (i === parts.length) {
      out.add(path || "/");
      return;
    }
    const part = parts[i];
    if (!isDir(ino)) return;
    if (part === "**") {
      walk(ino, path, i + 1);
      for (const e of fs.readdir(ino)) {
        if (e.name.startsWith(".")) continue;
        if (isDir(e.ino)) walk(e.ino, `${path}/${e.name}`, i);
      }
      return;
    }
    if (!hasGlob(part)) {
      let next: number;
      try {
        next = fs.lookup(ino, part);
      } catch {
        return;
      }
      walk(next, `${path}/${part}`, i + 1);
      return;
    }
    const re = globComponent(part);
    for (const e of fs.readdir(ino)) {
      if (e.name.startsWith(".") && !part.startsWith(".")) continue;
      if (re.test(e.name)) walk(e.ino, `${path}/${e.name}`, i + 1);
    }
  };
  walk(fs.sb.rootIno, "", 0);
  return [...out].sort();
}
