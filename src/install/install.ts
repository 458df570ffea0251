/**
 * `vexfs install` / `vexfs uninstall`: put VexFS where a Linux system's own
 * tools find it, as a package would, without compiling anything.
 *
 * What is written (every path absolute; every script a POSIX sh script):
 * - `PREFIX/bin/vexfs`: the launcher. It execs this checkout's pinned Deno
 *   binary (`node_modules/deno/deno`, resolved to its real path; never npm's
 *   Node wrapper `node_modules/.bin/deno`) with `run -A <checkout>/main.ts "$@"`.
 * - `SBINDIR/mkfs.vexfs`, `SBINDIR/fsck.vexfs`, `SBINDIR/mount.vexfs` and
 *   `SBINDIR/mount.fuse.vexfs`: the helpers of util-linux's mkfs(8), fsck(8)
 *   and mount(8). On Debian 12 (util-linux 2.38) mkfs(8) looks for
 *   `mkfs.<type>` in /sbin, /sbin/fs.d, /sbin/fs and then PATH; fsck(8) in
 *   /sbin, /sbin/fs.d, /sbin/fs, /etc/fs, /etc and then PATH; mount(8)
 *   (libmount) only in /sbin, /sbin/fs.d and /sbin/fs, as `mount.<type>` and,
 *   for `-t fuse.vexfs`, `mount.fuse.vexfs` before the generic mount.fuse.
 *   So the default SBINDIR is /sbin (/usr/sbin on a merged-/usr system).
 * - data files the caller passes (the man pages in `PREFIX/share/man/man8`
 *   and the completions in `PREFIX/share/bash-completion/completions/vexfs`
 *   and `PREFIX/share/zsh/vendor-completions/_vexfs`, made by src/docs/),
 *   each with the marker as its second line, in its own comment syntax;
 * - `PREFIX/share/vexfs/manifest`: one absolute path per line of every file
 *   and directory install created, which uninstall removes (and nothing else).
 *
 * The helpers run nothing by name: the Deno binary, main.ts and mount(8) are
 * named by absolute path, and they set `PATH` to the system directories when
 * mount(8) started them with none (the mount daemon and its unmount fallbacks
 * run fusermount3/umount by name).
 * @module
 */

/** First line after the shebang of every file install writes: uninstall and reinstall recognise them by it. */
export const MARKER = "# written by 'vexfs install'";

/** The PATH the scripts set when started without one (as mount(8) starts helpers). */
export const SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/** Where install puts things. */
export interface InstallLayout {
  /** the prefix (default /usr/local) */
  prefix: string;
  /** directory of the `vexfs` launcher: PREFIX/bin */
  bindir: string;
  /** directory of the mkfs/fsck/mount helpers (default /sbin; PREFIX/sbin when a prefix is given) */
  sbindir: string;
  /** the manifest file: PREFIX/share/vexfs/manifest */
  manifest: string;
  /** section 8 man pages: PREFIX/share/man/man8 */
  man8dir: string;
  /** bash-completion's directory: PREFIX/share/bash-completion/completions */
  bashCompletionDir: string;
  /** zsh's directory for packaged completions: PREFIX/share/zsh/vendor-completions */
  zshCompletionDir: string;
}

/** A file install writes besides the scripts (a man page, a completion script). */
export interface DataFile {
  /** absolute path */
  path: string;
  /** its text, which must carry {@link MARKER} in its second line ({@link withMarker}) */
  text: string;
}

/**
 * Puts the install marker into a text as its second line (the first may be
 * a `#compdef` or `'\" t` line that has to stay first), as a comment.
 * @param text the file's text
 * @param comment put before the marker (which starts with `# `, a shell comment): `""` for shells, `.\" ` for roff
 * @param what what the file is, after the marker
 */
export function withMarker(text: string, comment: string, what: string): string {
  const nl = text.indexOf("\n");
  const line = `${comment}${MARKER}: ${what}`;
  return nl < 0 ? `${text}\n${line}\n` : `${text.slice(0, nl + 1)}${line}\n${text.slice(nl + 1)}`;
}

/**
 * The layout for a prefix.
 * @param prefix install prefix; undefined for the default /usr/local (helpers then go to /sbin)
 * @param sbindir where the helpers go; default /sbin without a prefix, PREFIX/sbin with one
 */
export function layout(prefix?: string, sbindir?: string): InstallLayout {
  const p = abs(prefix ?? "/usr/local");
  return {
    prefix: p,
    bindir: `${p}/bin`,
    sbindir: abs(sbindir ?? (prefix === undefined ? "/sbin" : `${p}/sbin`)),
    manifest: `${p}/share/vexfs/manifest`,
    man8dir: `${p}/share/man/man8`,
    bashCompletionDir: `${p}/share/bash-completion/completions`,
    zshCompletionDir: `${p}/share/zsh/vendor-completions`,
  };
}

function abs(p: string): string {
  if (!p) throw new Error("empty directory name");
  const a = p.startsWith("/") ? p : `${Deno.cwd()}/${p}`;
  return a.replace(/\/+$/, "") || "/";
}

/** Single-quotes a string for sh. */
export function shQuote(s: string): string {
  return `'${s.replaceAll("'", `'\\''`)}'`;
}

/** The checkout this module belongs to: its main.ts and its pinned Deno binary, as real absolute paths. */
export interface Checkout {
  /** absolute path of main.ts */
  main: string;
  /** absolute real path of node_modules/deno/deno (the native binary, not npm's wrapper) */
  deno: string;
}

/**
 * Finds this checkout's main.ts and pinned Deno binary.
 * @throws Error when either is missing or the Deno binary is not an ELF executable
 */
export function findCheckout(): Checkout {
  const root = new URL("../../", import.meta.url).pathname.replace(/\/$/, "");
  const main = `${root}/main.ts`;
  Deno.statSync(main);
  let deno: string;
  try {
    deno = Deno.realPathSync(`${root}/node_modules/deno/deno`);
  } catch {
    throw new Error(`no Deno binary at ${root}/node_modules/deno/deno (run 'npm install' in ${root})`);
  }
  const head = new Uint8Array(4);
  const f = Deno.openSync(deno);
  try {
    f.readSync(head);
  } finally {
    f.close();
  }
  if (head[0] !== 0x7f || head[1] !== 0x45 || head[2] !== 0x4c || head[3] !== 0x46) {
    throw new Error(`${deno} is not the native Deno binary (not an ELF file)`);
  }
  return { main, deno };
}

function header(what: string): string {
  return `#!/bin/sh\n${MARKER}: ${what}\n` +
    `[ -n "$PATH" ] || PATH=${SYSTEM_PATH}\nexport PATH\n`;
}

/**
 * The scripts install writes, by file name.
 * @param co the checkout to run
 * @returns map from file name (`vexfs`, `mkfs.vexfs`, ...) to its text
 */
export function scripts(co: Checkout): Record<string, string> {
  const run = `${shQuote(co.deno)} run -A ${shQuote(co.main)}`;
  const mount = `${header("mount(8) helper, called as: mount.vexfs SPEC DIR [-sfnv] [-N NS] [-o OPTS] [-t TYPE]")}
[ $# -ge 2 ] || { echo "usage: mount.vexfs SPEC DIR [-sfnv] [-o OPTS]" >&2; exit 1; }
spec=$1; dir=$2; shift 2
opts=; fake=
while [ $# -gt 0 ]; do
  case $1 in
    -o) opts=$2; shift 2 || shift;;
    -o*) opts=\${1#-o}; shift;;
    -t|-N) shift 2 || shift;;
    -t*|-N*) shift;;
    -*) case $1 in *f*) fake=1;; esac; shift;;
    *) echo "mount.vexfs: unexpected argument '$1'" >&2; exit 1;;
  esac
done
# -f (fake): mount(8) only wants /etc/mtab updated, which it does itself
[ -z "$fake" ] || exit 0
# the kernel module, when loaded, serves the mount; FUSE otherwise
kernel=
while read -r a b; do [ "$a" = vexfs ] || [ "$b" = vexfs ] && kernel=1; done < /proc/filesystems
if [ -n "$kernel" ]; then
  exec /usr/bin/mount -i -t vexfs \${opts:+-o "$opts"} "$spec" "$dir"
fi
exec ${run} mount "$spec" "$dir" \${opts:+-o "$opts"}
`;
  return {
    vexfs: `${header("launcher")}exec ${run} "$@"\n`,
    "mkfs.vexfs": `${header("mkfs(8) helper")}exec ${run} mkfs "$@"\n`,
    "fsck.vexfs": `${header("fsck(8) helper; its exit codes are fsck(8)'s")}
# fsck(8) may add -C [FD] (progress, which vexfs fsck draws itself) and users may
# pass e2fsck's -r, -l, -s (no meaning here): drop them, pass the rest on
first=1; skipnum=
for a do
  if [ -n "$first" ]; then set --; first=; fi
  if [ -n "$skipnum" ]; then skipnum=; case $a in ''|*[!0-9]*) ;; *) continue;; esac; fi
  case $a in
    --*) ;;
    -C) skipnum=1; continue;;
    -C*) continue;;
    -?*) a=-$(printf %s "\${a#-}" | /usr/bin/tr -d 'rlsC0-9'); [ "$a" != - ] || continue;;
  esac
  set -- "$@" "$a"
done
exec ${run} fsck "$@"
`,
    "mount.vexfs": mount,
    "mount.fuse.vexfs": mount,
  };
}

/** What install or uninstall did. */
export interface InstallResult {
  /** files written or removed, absolute */
  files: string[];
  /** directories created or removed, absolute */
  dirs: string[];
}

function exists(p: string): boolean {
  try {
    Deno.lstatSync(p);
    return true;
  } catch {
    return false;
  }
}

function ours(p: string): boolean {
  try {
    return Deno.readTextFileSync(p).split("\n", 3)[1]?.includes(MARKER) ?? false;
  } catch {
    return false;
  }
}

/** Creates `dir` and missing parents; returns the directories it created, outermost first. */
function mkdirs(dir: string): string[] {
  const made: string[] = [];
  const parts = dir.split("/").filter(Boolean);
  let cur = "";
  for (const part of parts) {
    cur += `/${part}`;
    if (exists(cur)) continue;
    Deno.mkdirSync(cur);
    made.push(cur);
  }
  return made;
}

/**
 * Installs the launcher and the helpers, and records them in the manifest.
 * An existing file at a target that install did not write is an error (so
 * nothing of someone else's is overwritten); files of an earlier install are
 * replaced, and the manifest keeps what the earlier one recorded too.
 * @param l where to install ({@link layout})
 * @param co the checkout to run (default: this one)
 * @param data man pages, completions (mode 0644; each with {@link MARKER} in line 2)
 * @throws Error when a target exists and is not ours, or a directory cannot be written
 */
export function install(l: InstallLayout, co: Checkout = findCheckout(), data: DataFile[] = []): InstallResult {
  const s = scripts(co);
  const targets: [string, string, number][] = [
    [`${l.bindir}/vexfs`, s.vexfs, 0o755],
    ...["mkfs.vexfs", "fsck.vexfs", "mount.vexfs", "mount.fuse.vexfs"].map((n) =>
      [`${l.sbindir}/${n}`, s[n], 0o755] as [string, string, number]
    ),
    ...data.map((d) => [d.path, d.text, 0o644] as [string, string, number]),
  ];
  for (const d of data) {
    if (!d.text.split("\n", 3)[1]?.includes(MARKER)) throw new Error(`${d.path}: no install marker in its second line`);
  }
  for (const [p] of targets) {
    if (exists(p) && !ours(p)) throw new Error(`${p} exists and was not written by 'vexfs install': remove it first`);
  }
  const previous = readManifest(l.manifest);
  const dirs: string[] = [];
  const files: string[] = [];
  const parent = (p: string) => p.replace(/\/[^/]*$/, "");
  for (const d of new Set([l.bindir, l.sbindir, parent(l.manifest), ...data.map((f) => parent(f.path))])) {
    dirs.push(...mkdirs(d));
  }
  for (const [p, text, mode] of targets) {
    const tmp = `${p}.vexfs-new`;
    Deno.writeTextFileSync(tmp, text, { mode });
    Deno.chmodSync(tmp, mode);
    Deno.renameSync(tmp, p);
    files.push(p);
  }
  const all = [...new Set([...previous, ...dirs.map((d) => `${d}/`), ...files, l.manifest])];
  Deno.writeTextFileSync(l.manifest, all.join("\n") + "\n");
  return { files: [...files, l.manifest], dirs };
}

/** The manifest's entries (directories end in "/"); empty when there is none. */
export function readManifest(path: string): string[] {
  try {
    return Deno.readTextFileSync(path).split("\n").filter((x) => x.startsWith("/"));
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return [];
    throw e;
  }
}

/**
 * Removes exactly what the manifest lists: its files, then the directories
 * install created (deepest first, only when empty), then the manifest.
 * @param l the layout install used (its manifest is read)
 * @throws Error when there is no manifest at `l.manifest`
 */
export function uninstall(l: InstallLayout): InstallResult {
  if (!exists(l.manifest)) throw new Error(`no install manifest at ${l.manifest} (nothing installed with this prefix)`);
  const entries = readManifest(l.manifest);
  const files: string[] = [];
  const dirs: string[] = [];
  for (const p of entries.filter((e) => !e.endsWith("/") && e !== l.manifest)) {
    if (!exists(p)) continue;
    if (!ours(p)) throw new Error(`${p} was changed since 'vexfs install' wrote it: not removing it`);
    Deno.removeSync(p);
    files.push(p);
  }
  Deno.removeSync(l.manifest);
  files.push(l.manifest);
  const dirList = entries.filter((e) => e.endsWith("/")).map((e) => e.slice(0, -1));
  for (const d of dirList.sort((a, b) => b.length - a.length)) {
    try {
      if ([...Deno.readDirSync(d)].length === 0) {
        Deno.removeSync(d);
        dirs.push(d);
      }
    } catch { /* gone already */ }
  }
  return { files, dirs };
}
