/**
 * Small debugfs-like tools for unmounted images: `ls`, `cat`, `put`,
 * `mkdir`, `rm`.
 * @module
 */
import type { Command } from "commander";
import { FsError } from "../src/errors.ts";
import { S_IFDIR, S_IFMT, S_IFREG } from "../src/format/constants.ts";
import type { Vexfs } from "../src/fs/fs.ts";
import { fileJson, printJsonResult } from "./json.ts";
import { type FileInfo, OfflineBackend, openImage, resolveIn, typeName, typeNoun, withBackend } from "./backend.ts";
import { action, c, CliError, defineCommand, examples, fsPath, readStdin, say, table, writeStdout } from "./util.ts";

/** `drwxr-xr-x`-style mode string. */
export function modeString(mode: number): string {
  const t: Record<string, string> = {
    dir: "d",
    symlink: "l",
    char: "c",
    block: "b",
    fifo: "p",
    socket: "s",
    file: "-",
  };
  let s = t[typeName(mode)] ?? "?";
  const rwx = "rwxrwxrwx";
  for (let i = 0; i < 9; i++) s += mode & (1 << (8 - i)) ? rwx[i] : "-";
  return s;
}

function baseName(p: string): string {
  const parts = p.split("/").filter(Boolean);
  return parts[parts.length - 1] ?? "/";
}

function join(dir: string, name: string): string {
  return (dir === "/" ? "" : dir) + "/" + name;
}

function decorate(f: FileInfo, name: string): string {
  if (f.type === "dir") return c.blue(c.bold(name)) + "/";
  if (f.type === "symlink") return c.cyan(name);
  return name;
}

function mtimeString(ms: number): string {
  const d = new Date(ms);
  const p = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}`;
}

/** Removes `path` (recursively with `recursive`). */
function remove(
  fs: Vexfs,
  target: string,
  path: string,
  recursive: boolean,
): number {
  const p = fsPath(path);
  if (p === "/") throw new CliError("refusing to remove the root directory");
  const ino = resolveIn(fs, target, p, false);
  const { dir, name } = fs.resolveParent(p);
  if ((fs.getattr(ino).mode & S_IFMT) !== S_IFDIR) {
    fs.unlink(dir, name);
    return 1;
  }
  if (!recursive) {
    throw new CliError(
      `${p} is a directory (use -r to remove it and everything below it)`,
    );
  }
  let n = 0;
  const stack: { ino: number; path: string; expanded: boolean }[] = [{
    ino,
    path: p,
    expanded: false,
  }];
  while (stack.length) {
    const top = stack[stack.length - 1];
    if (!top.expanded) {
      top.expanded = true;
      const entries = [...fs.readdir(top.ino)];
      for (const e of entries) {
        if (e.type === 2) {
          stack.push({
            ino: e.ino,
            path: join(top.path, e.name),
            expanded: false,
          });
        } else {
          fs.unlink(top.ino, e.nameBytes);
          n++;
        }
      }
      continue;
    }
    stack.pop();
    const parent = fs.resolveParent(top.path);
    fs.rmdir(parent.dir, parent.name);
    n++;
  }
  return n;
}

/** Registers `ls`, `cat`, `put`, `mkdir`, `rm`. */
export function register(program: Command): void {
  const ls = defineCommand(
    program,
    "ls",
    "list a directory (or show one file) of an unmounted image",
  )
    .argument("<image>", "image file or device (IMAGE)")
    .argument("[path]", "directory or file inside the filesystem", "/")
    .option(
      "-l, --long",
      "long listing: type and permissions, links, owner, size, time, vector",
    )
    .option("--json", "print the entries as JSON (docs/JSON.md)")
    .action(
      action(
        "ls",
        async (
          image: string,
          path: string,
          o: { long?: boolean; json?: boolean },
        ) => {
          await withBackend(image, false, (b: OfflineBackend) => {
            const p = fsPath(path);
            const self = b.statIno(b.resolve(p), p);
            const items: [FileInfo, string][] = [];
            if (self.type === "dir") {
              for (const e of b.fs.readdir(self.ino)) {
                items.push([b.statIno(e.ino, join(p, e.name)), e.name]);
              }
              items.sort((x, y) => (x[1] < y[1] ? -1 : x[1] > y[1] ? 1 : 0));
            } else items.push([self, baseName(p)]);
            if (o.json) {
              return printJsonResult("ls", { path: p, entries: items.map(([f, n]) => fileJson(f, n)) });
            }
            if (!o.long) {
              for (const [f, n] of items) say(decorate(f, n));
              return;
            }
            const rows = items.map(([f, n]) => [
              modeString(f.mode),
              f.nlink,
              f.uid,
              f.gid,
              f.size,
              mtimeString(f.mtime),
              f.hasVector ? "vec" : f.collectionRoot ? `coll ${f.collectionRoot}` : "",
              decorate(f, n),
            ]);
            say(
              table(
                [
                  "mode",
                  "links",
                  "uid",
                  "gid",
                  "size",
                  "modified",
                  "vector",
                  "name",
                ],
                rows,
                [
                  "left",
                  "right",
                  "right",
                  "right",
                  "right",
                  "left",
                  "left",
                  "left",
                ],
              ),
            );
            say(
              c.dim(`${items.length} entr${items.length === 1 ? "y" : "ies"}`),
            );
          });
        },
      ),
    );
  ls.addHelpText(
    "after",
    `\nIn the long listing, "vec" marks a file that carries a vector and "coll N" a\ndirectory that is the root of collection N.`,
  );
  examples(ls, [
    "vexfs ls disk.img",
    "vexfs ls -l disk.img /docs",
    "vexfs ls --json disk.img /docs/intro.md",
  ]);

  const cat = defineCommand(
    program,
    "cat",
    "write a file of an unmounted image to standard output",
  )
    .argument("<image>", "image file or device (IMAGE)")
    .argument("<path>", "file inside the filesystem")
    .action(action("cat", (image: string, path: string) => {
      const fs = openImage(image, { write: false });
      try {
        const ino = resolveIn(fs, image, path);
        const st = fs.getattr(ino);
        if ((st.mode & S_IFMT) !== S_IFREG) {
          throw new CliError(
            `${fsPath(path)} is ${typeNoun(st.mode)}, not a regular file`,
          );
        }
        const chunk = 1 << 20;
        for (let off = 0; off < st.size; off += chunk) {
          writeStdout(fs.read(ino, off, chunk));
        }
      } finally {
        fs.close();
      }
    }));
  examples(cat, [
    "vexfs cat disk.img /docs/intro.md",
    "vexfs cat disk.img /data/blob.bin > blob.bin",
  ]);

  const put = defineCommand(
    program,
    "put",
    "copy a host file into an unmounted image",
  )
    .argument("<image>", "image file or device (IMAGE)")
    .argument("<localfile>", "host file to copy, or - for standard input")
    .argument(
      "<path>",
      "destination inside the filesystem (an existing directory: keep the file's name)",
    )
    .option("-p, --parents", "create missing parent directories")
    .action(
      action(
        "put",
        async (
          image: string,
          local: string,
          path: string,
          o: { parents?: boolean },
        ) => {
          let data: Uint8Array | AsyncIterable<Uint8Array>;
          let file: Deno.FsFile | undefined;
          if (local === "-") data = await readStdin();
          else {
            try {
              const st = await Deno.stat(local);
              if (!st.isFile) {
                throw new CliError(`${local} is not a regular file`);
              }
              file = await Deno.open(local, { read: true });
            } catch (e) {
              if (e instanceof CliError) throw e;
              throw new CliError(
                `cannot read ${local}: ${e instanceof Deno.errors.NotFound ? "no such file" : (e as Error).message}`,
              );
            }
            data = file.readable;
          }
          try {
            await withBackend(image, true, async (b) => {
              let dest = fsPath(path);
              const existing = b.stat(dest);
              if (existing?.type === "dir" || path.endsWith("/")) {
                if (local === "-") {
                  throw new CliError(
                    `${dest} is a directory; give a file name to write standard input to`,
                  );
                }
                dest = join(dest, baseName(local));
              }
              await b.writeFile(dest, data, { parents: o.parents });
            });
          } finally {
            try {
              file?.close();
            } catch { /* closed by the stream */ }
          }
        },
      ),
    );
  put.addHelpText(
    "after",
    "\nAn existing file at PATH is replaced (its vector, if any, is kept).",
  );
  examples(put, [
    "vexfs put disk.img notes.md /docs/notes.md",
    "vexfs put -p disk.img report.pdf /archive/2024/     # into a (new) directory",
    "echo hello | vexfs put disk.img - /hello.txt",
  ]);

  const mkdir = defineCommand(
    program,
    "mkdir",
    "create directories in an unmounted image",
  )
    .argument("<image>", "image file or device (IMAGE)")
    .argument("<paths...>", "directories to create inside the filesystem")
    .option(
      "-p, --parents",
      "create missing parents; no error if a directory exists",
    )
    .action(
      action(
        "mkdir",
        async (image: string, paths: string[], o: { parents?: boolean }) => {
          await withBackend(image, true, (b) => {
            for (const raw of paths) {
              const p = fsPath(raw);
              if (o.parents) {
                b.mkdirp(p);
                continue;
              }
              if (p === "/") throw new CliError("/ already exists");
              const { dir, name } = (() => {
                try {
                  return b.fs.resolveParent(p);
                } catch (e) {
                  if (
                    e instanceof FsError &&
                    (e.code === "ENOENT" || e.code === "ENOTDIR")
                  ) {
                    throw new CliError(
                      `${p}: parent directory does not exist (use -p to create it)`,
                    );
                  }
                  throw e;
                }
              })();
              try {
                b.fs.mkdir(dir, name);
              } catch (e) {
                if (e instanceof FsError && e.code === "EEXIST") {
                  throw new CliError(`${p} already exists`);
                }
                throw e;
              }
            }
          });
        },
      ),
    );
  examples(mkdir, [
    "vexfs mkdir disk.img /docs",
    "vexfs mkdir -p disk.img /docs/2024/q1 /images",
  ]);

  const rm = defineCommand(
    program,
    "rm",
    "remove files or directories from an unmounted image",
  )
    .argument("<image>", "image file or device (IMAGE)")
    .argument("<paths...>", "files (or, with -r, directories) to remove")
    .option("-r, --recursive", "remove directories and everything below them")
    .option("-f, --force", "ignore paths that do not exist")
    .action(
      action(
        "rm",
        async (
          image: string,
          paths: string[],
          o: { recursive?: boolean; force?: boolean },
        ) => {
          await withBackend(image, true, (b) => {
            for (const p of paths) {
              if (o.force && b.stat(p) === null) continue;
              remove(b.fs, image, p, !!o.recursive);
            }
          });
        },
      ),
    );
  rm.addHelpText(
    "after",
    "\nRemoving a file deletes its vector; removing a collection root deletes the collection.",
  );
  examples(rm, [
    "vexfs rm disk.img /docs/old.md",
    "vexfs rm -r disk.img /docs",
  ]);
}
