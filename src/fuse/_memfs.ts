/**
 * A tiny in-memory filesystem used by the FUSE binding tests (not part of
 * VexFS). Root holds `hello.txt` and `data.bin`. Special names exercise
 * error paths: looking up `eacces` throws `{ errno: EACCES }`, `crash`
 * throws a plain Error (→ EIO), `async-fail` rejects with ENOTSUP.
 * Reads are asynchronous to exercise late replies.
 * @module
 */
import type {
  DirEntry,
  DirEntryPlus,
  EntryParam,
  FuseOps,
  IoctlReply,
  SetAttrChanges,
  StatAttr,
  StatFs,
} from "./session.ts";

/** Error with an errno, as engines throw them. */
export class ErrnoError extends Error {
  constructor(readonly errno: number, message = `errno ${errno}`) {
    super(message);
  }
}

const ENOENT = 2,
  EACCES = 13,
  EEXIST = 17,
  ENOTDIR = 20,
  EISDIR = 21,
  ENOTEMPTY = 39,
  ENODATA = 61,
  ENOTTY = 25,
  ENOTSUP = 95;
const S_IFDIR = 0o040000, S_IFREG = 0o100000, S_IFMT = 0o170000;

/** `_IOWR('V', 1, struct { u32 a, b; })`: replies `{ a + b, a * b }`, returns 3. */
export const IOCTL_SUM_PRODUCT = 0xC0085601;

interface Node {
  ino: bigint;
  mode: number;
  uid: number;
  gid: number;
  nlink: number;
  data: Uint8Array;
  children: Map<string, bigint>;
  parent: bigint;
  xattrs: Map<string, Uint8Array>;
  atimeNs: bigint;
  mtimeNs: bigint;
  ctimeNs: bigint;
}

const dec = new TextDecoder();
const enc = new TextEncoder();
const now = () => BigInt(Date.now()) * 1_000_000n;

/**
 * Build a fresh in-memory filesystem implementing FuseOps. With
 * `readdirplus: true` it also implements readdirplus (the kernel then
 * prefers it for listings).
 */
export function createMemFs(
  opts: { readdirplus?: boolean } = {},
): FuseOps & { nodes: Map<bigint, Node>; plusCalls: number } {
  const nodes = new Map<bigint, Node>();
  let nextIno = 2n;
  const mk = (mode: number, parent: bigint, ino = nextIno++): Node => {
    const t = now();
    const n: Node = {
      ino,
      mode,
      uid: 0,
      gid: 0,
      nlink: (mode & S_IFMT) === S_IFDIR ? 2 : 1,
      data: new Uint8Array(0),
      children: new Map(),
      parent,
      xattrs: new Map(),
      atimeNs: t,
      mtimeNs: t,
      ctimeNs: t,
    };
    nodes.set(ino, n);
    return n;
  };
  const root = mk(S_IFDIR | 0o755, 1n, 1n);
  const addFile = (name: string, content: Uint8Array) => {
    const f = mk(S_IFREG | 0o644, 1n);
    f.data = content;
    root.children.set(name, f.ino);
  };
  addFile("hello.txt", enc.encode("hello world\n"));
  addFile("data.bin", new Uint8Array([0, 1, 2, 3, 255]));

  const get = (ino: bigint): Node => {
    const n = nodes.get(ino);
    if (!n) throw new ErrnoError(ENOENT);
    return n;
  };
  const dir = (ino: bigint): Node => {
    const n = get(ino);
    if ((n.mode & S_IFMT) !== S_IFDIR) throw new ErrnoError(ENOTDIR);
    return n;
  };
  const attr = (n: Node): StatAttr => ({
    ino: n.ino,
    mode: n.mode,
    nlink: n.nlink,
    uid: n.uid,
    gid: n.gid,
    size: n.data.length,
    atimeNs: n.atimeNs,
    mtimeNs: n.mtimeNs,
    ctimeNs: n.ctimeNs,
  });
  const entry = (n: Node): EntryParam => ({ ino: n.ino, attr: attr(n) });
  const newChild = (
    parent: bigint,
    name: Uint8Array,
    mode: number,
    uid: number,
    gid: number,
  ): Node => {
    const p = dir(parent);
    const s = dec.decode(name);
    if (p.children.has(s)) throw new ErrnoError(EEXIST);
    const n = mk(mode, parent);
    n.uid = uid;
    n.gid = gid;
    p.children.set(s, n.ino);
    if ((mode & S_IFMT) === S_IFDIR) p.nlink++;
    p.mtimeNs = p.ctimeNs = now();
    return n;
  };
  const xname = (b: Uint8Array) => dec.decode(b);

  const listing = (ino: bigint): DirEntry[] => {
    const d = dir(ino);
    return [
      { name: ".", ino: d.ino, mode: d.mode },
      { name: "..", ino: d.parent, mode: S_IFDIR },
      ...[...d.children].map(([name, i]) => ({
        name,
        ino: i,
        mode: get(i).mode,
      })),
    ];
  };

  const fs: FuseOps & { nodes: Map<bigint, Node>; plusCalls: number } = {
    nodes,
    plusCalls: 0,
    lookup(_req, parent, name) {
      const s = dec.decode(name);
      if (s === "eacces") throw { errno: EACCES };
      if (s === "crash") throw new Error("simulated handler bug");
      if (s === "async-fail") {
        return Promise.reject(new ErrnoError(ENOTSUP));
      }
      const ino = dir(parent).children.get(s);
      if (ino === undefined) throw new ErrnoError(ENOENT);
      return entry(get(ino));
    },
    forget() {},
    getattr(_req, ino) {
      return attr(get(ino));
    },
    setattr(_req, ino, ch: SetAttrChanges) {
      const n = get(ino);
      if (ch.mode !== undefined) {
        n.mode = (n.mode & S_IFMT) | (ch.mode & 0o7777);
      }
      if (ch.uid !== undefined) n.uid = ch.uid;
      if (ch.gid !== undefined) n.gid = ch.gid;
      if (ch.size !== undefined) {
        const d = new Uint8Array(Number(ch.size));
        d.set(n.data.subarray(0, d.length));
        n.data = d;
        n.mtimeNs = now();
      }
      if (ch.atimeNs !== undefined) n.atimeNs = ch.atimeNs;
      if (ch.mtimeNs !== undefined) n.mtimeNs = ch.mtimeNs;
      n.ctimeNs = now();
      return { attr: attr(n), timeout: 0 };
    },
    mkdir(req, parent, name, mode) {
      return entry(newChild(parent, name, S_IFDIR | mode, req.uid, req.gid));
    },
    create(req, parent, name, mode) {
      const n = newChild(
        parent,
        name,
        S_IFREG | (mode & 0o7777),
        req.uid,
        req.gid,
      );
      return { ...entry(n), fh: n.ino };
    },
    unlink(_req, parent, name) {
      const p = dir(parent);
      const s = dec.decode(name);
      const ino = p.children.get(s);
      if (ino === undefined) throw new ErrnoError(ENOENT);
      if ((get(ino).mode & S_IFMT) === S_IFDIR) throw new ErrnoError(EISDIR);
      p.children.delete(s);
      nodes.delete(ino);
    },
    rmdir(_req, parent, name) {
      const p = dir(parent);
      const s = dec.decode(name);
      const ino = p.children.get(s);
      if (ino === undefined) throw new ErrnoError(ENOENT);
      if (dir(ino).children.size > 0) throw new ErrnoError(ENOTEMPTY);
      p.children.delete(s);
      p.nlink--;
      nodes.delete(ino);
    },
    open(_req, ino) {
      get(ino);
      return { fh: ino };
    },
    async read(_req, ino, size, offset) {
      await new Promise((r) => setTimeout(r, 0)); // reply later, from JS
      const n = get(ino);
      const off = Number(offset);
      return n.data.slice(off, off + size);
    },
    write(_req, ino, data, offset) {
      const n = get(ino);
      const end = Number(offset) + data.length;
      if (end > n.data.length) {
        const d = new Uint8Array(end);
        d.set(n.data);
        n.data = d;
      }
      n.data.set(data, Number(offset));
      n.mtimeNs = n.ctimeNs = now();
      return data.length;
    },
    readdir(_req, ino, _size, offset): DirEntry[] {
      return listing(ino).slice(Number(offset));
    },
    statfs(): StatFs {
      return {
        bsize: 4096,
        blocks: 1000,
        bfree: 600,
        files: 100,
        ffree: 100 - nodes.size,
        namemax: 255,
      };
    },
    setxattr(_req, ino, name, value, flags) {
      const n = get(ino);
      const k = xname(name);
      if (flags === 1 && n.xattrs.has(k)) throw new ErrnoError(EEXIST);
      if (flags === 2 && !n.xattrs.has(k)) throw new ErrnoError(ENODATA);
      n.xattrs.set(k, value);
    },
    getxattr(_req, ino, name) {
      const v = get(ino).xattrs.get(xname(name));
      if (!v) throw new ErrnoError(ENODATA);
      return v;
    },
    listxattr(_req, ino) {
      return [...get(ino).xattrs.keys()];
    },
    removexattr(_req, ino, name) {
      if (!get(ino).xattrs.delete(xname(name))) throw new ErrnoError(ENODATA);
    },
    ioctl(_req, _ino, cmd, _fi, _flags, inData, outSize): IoctlReply {
      if (cmd !== IOCTL_SUM_PRODUCT) throw new ErrnoError(ENOTTY);
      const v = new DataView(inData.buffer, inData.byteOffset, inData.length);
      const a = v.getUint32(0, true), b = v.getUint32(4, true);
      const out = new Uint8Array(outSize);
      const ov = new DataView(out.buffer);
      ov.setUint32(0, a + b, true);
      ov.setUint32(4, a * b, true);
      return { result: 3, data: out };
    },
  };
  if (opts.readdirplus) {
    fs.readdirplus = (_req, ino, _size, offset): DirEntryPlus[] => {
      fs.plusCalls++;
      return listing(ino).slice(Number(offset)).map((e) => ({
        name: e.name,
        entry: e.name === "." || e.name === ".." ? { ino: e.ino, attr: { mode: e.mode } } : entry(get(BigInt(e.ino))),
      }));
    };
  }
  return fs;
}
