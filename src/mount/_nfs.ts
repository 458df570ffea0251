/**
 * Test helper: an NFS export of a directory with a user-space server and
 * client, for kernels without an NFS server or client (CONFIG_NFSD and
 * CONFIG_NFS_FS off, as in containers built for FUSE only).
 *
 * The server is nfs-ganesha (Debian packages `nfs-ganesha`,
 * `nfs-ganesha-vfs`) with its VFS backend, which serves the exported
 * directory through `name_to_handle_at(2)`/`open_by_handle_at(2)`: an NFS
 * file handle it hands out is the kernel's file handle of the file (plus
 * the filesystem's id), so a client's handle still works after the server
 * restarts only if the filesystem decodes its own handles with cold caches
 * — what the kernel's NFS server needs too. It speaks NFSv3 and registers
 * with rpcbind (started here when none is running). The client is libnfs
 * (Debian `libnfs13`) through `Deno.dlopen`, talking NFSv3 to fixed ports.
 *
 * Blocking FFI calls on the JS thread: the exported directory must be served
 * by another process (a `vexfs mount --foreground` daemon).
 * @module
 */

/** The server binary. */
const GANESHA = "/usr/bin/ganesha.nfsd";
/** The client library. */
const LIBNFS = "libnfs.so.13";

const dec = new TextDecoder();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Whether something accepts TCP connections on 127.0.0.1:`port`. */
async function listening(port: number): Promise<boolean> {
  try {
    (await Deno.connect({ hostname: "127.0.0.1", port })).close();
    return true;
  } catch {
    return false;
  }
}

/**
 * Why an NFS export cannot be tested here, or undefined when it can: the
 * server or client is not installed, or the ports are taken.
 */
export async function nfsUnavailable(nfsPort: number, mountPort: number): Promise<string | undefined> {
  try {
    Deno.statSync(GANESHA);
    Deno.statSync("/usr/lib/x86_64-linux-gnu/ganesha/libfsalvfs.so");
  } catch {
    return "nfs-ganesha with its VFS backend is not installed (apt-get install nfs-ganesha nfs-ganesha-vfs)";
  }
  try {
    Deno.dlopen(LIBNFS, {}).close();
  } catch {
    return "libnfs is not installed (apt-get install libnfs13)";
  }
  if (await listening(111)) {
    // nfs-ganesha must register NFSv3 with rpcbind: another NFS server's registration makes it exit
    const o = await new Deno.Command("rpcinfo", { args: ["-p", "127.0.0.1"], stdout: "piped", stderr: "null" })
      .output().catch(() => undefined);
    if (o && /^\s*100003\s/m.test(dec.decode(o.stdout))) {
      return "an NFS server is already registered with rpcbind (rpcinfo -p; e.g. systemctl stop nfs-ganesha)";
    }
  } else if (!hasRpcbind()) return "rpcbind is not installed (apt-get install rpcbind)";
  for (const p of [nfsPort, mountPort]) if (await listening(p)) return `port ${p} is in use`;
  return undefined;
}

function hasRpcbind(): boolean {
  try {
    return Deno.statSync("/usr/sbin/rpcbind").isFile;
  } catch {
    return false;
  }
}

/**
 * Starts rpcbind in the foreground unless one answers on port 111.
 * @returns a function that stops the one started here (a no-op otherwise)
 */
export async function ensureRpcbind(): Promise<() => Promise<void>> {
  if (await listening(111)) return () => Promise.resolve();
  const child = new Deno.Command("/usr/sbin/rpcbind", { args: ["-f", "-w"], stdout: "null", stderr: "piped" })
    .spawn();
  for (let i = 0; i < 100 && !(await listening(111)); i++) await sleep(50);
  return async () => {
    child.kill("SIGTERM");
    await child.stderr.cancel();
    await child.status;
  };
}

/** A running nfs-ganesha exporting one directory over NFSv3. */
export class Ganesha {
  private constructor(
    private readonly child: Deno.ChildProcess,
    /** its log file */
    readonly logFile: string,
  ) {}

  /**
   * Writes a configuration exporting `path` read-write without root
   * squashing (the VFS backend logging at DEBUG: each failed
   * `open_by_handle_at` with its errno), starts the server in the foreground and waits until it
   * accepts connections.
   * @param dir a scratch directory for the configuration, log and pid file
   * @throws Error with the server's log when it exits or does not come up in 30 s
   */
  static async start(path: string, nfsPort: number, mountPort: number, dir: string): Promise<Ganesha> {
    const conf = `${dir}/ganesha.conf`;
    Deno.writeTextFileSync(
      conf,
      `NFS_CORE_PARAM {
  Protocols = 3;
  NFS_Port = ${nfsPort};
  MNT_Port = ${mountPort};
  Bind_addr = 127.0.0.1;
  Enable_NLM = false;
  Enable_RQUOTA = false;
}
NFSV4 { Graceless = true; }
EXPORT {
  Export_Id = 77;
  Path = ${path};
  Pseudo = /vexfs;
  Access_Type = RW;
  Squash = No_Root_Squash;
  Protocols = 3;
  Transports = TCP;
  SecType = sys;
  FSAL { Name = VFS; }
}
LOG { COMPONENTS { FSAL = DEBUG; } }
`,
    );
    const logFile = `${dir}/ganesha.log`;
    const child = new Deno.Command(GANESHA, {
      args: ["-F", "-f", conf, "-L", logFile, "-p", `${dir}/ganesha.pid`, "-N", "NIV_EVENT"],
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
    let exited = false;
    child.status.then(() => exited = true);
    const g = new Ganesha(child, logFile);
    for (let i = 0; i < 600 && !exited; i++) {
      if (await listening(nfsPort) && await listening(mountPort)) return g;
      await sleep(50);
    }
    if (!exited) await g.stop();
    throw new Error(`nfs-ganesha did not come up: ${g.log().slice(-3000)}`);
  }

  /** The server's log so far. */
  log(): string {
    try {
      return Deno.readTextFileSync(this.logFile);
    } catch {
      return "";
    }
  }

  /** Stops the server (SIGTERM, SIGKILL after 20 s) and waits for it. */
  async stop(): Promise<void> {
    try {
      this.child.kill("SIGTERM");
    } catch { /* already gone */ }
    const timer = setTimeout(() => {
      try {
        this.child.kill("SIGKILL");
      } catch { /* gone */ }
    }, 20_000);
    await this.child.status;
    clearTimeout(timer);
  }
}

const SYMBOLS = {
  nfs_init_context: { parameters: [], result: "pointer" },
  nfs_destroy_context: { parameters: ["pointer"], result: "void" },
  nfs_parse_url_dir: { parameters: ["pointer", "buffer"], result: "pointer" },
  nfs_destroy_url: { parameters: ["pointer"], result: "void" },
  nfs_set_timeout: { parameters: ["pointer", "i32"], result: "void" },
  nfs_mount: { parameters: ["pointer", "buffer", "buffer"], result: "i32" },
  nfs_open: { parameters: ["pointer", "buffer", "i32", "buffer"], result: "i32" },
  nfs_pread: { parameters: ["pointer", "pointer", "u64", "u64", "buffer"], result: "i32" },
  nfs_pwrite: { parameters: ["pointer", "pointer", "u64", "u64", "buffer"], result: "i32" },
  nfs_close: { parameters: ["pointer", "pointer"], result: "i32" },
  nfs_get_error: { parameters: ["pointer"], result: "pointer" },
} as const satisfies Deno.ForeignLibraryInterface;

const cstr = (s: string) => new TextEncoder().encode(`${s}\0`);

/** A failed libnfs call: its negative errno result and libnfs's message. */
export class NfsError extends Error {
  constructor(readonly result: number, message: string) {
    super(message);
    this.name = "NfsError";
  }
}

/** An NFSv3 client (libnfs, synchronous API) of one export. */
export class NfsClient {
  private readonly lib: Deno.DynamicLibrary<typeof SYMBOLS>;
  private ctx: Deno.PointerValue;

  /**
   * Mounts `path` of the server on 127.0.0.1 at the given ports (no
   * portmapper), as uid 0, reconnecting after the server restarts (at most
   * 20 times), with calls timing out after 20 s.
   * @throws NfsError when the mount fails
   */
  constructor(path: string, nfsPort: number, mountPort: number) {
    this.lib = Deno.dlopen(LIBNFS, SYMBOLS);
    this.ctx = this.lib.symbols.nfs_init_context();
    if (this.ctx === null) throw new Error("nfs_init_context failed");
    const url = this.lib.symbols.nfs_parse_url_dir(
      this.ctx,
      cstr(`nfs://127.0.0.1${path}?nfsport=${nfsPort}&mountport=${mountPort}&uid=0&gid=0&autoreconnect=20`),
    );
    if (url === null) throw new NfsError(-22, `bad NFS URL: ${this.error()}`);
    this.lib.symbols.nfs_destroy_url(url);
    this.lib.symbols.nfs_set_timeout(this.ctx, 20_000);
    this.check(this.lib.symbols.nfs_mount(this.ctx, cstr("127.0.0.1"), cstr(path)), `mount ${path}`);
  }

  private error(): string {
    const p = this.lib.symbols.nfs_get_error(this.ctx);
    return p === null ? "" : new Deno.UnsafePointerView(p).getCString();
  }

  private check(r: number, what: string): number {
    if (r < 0) throw new NfsError(r, `${what}: ${this.error()}`);
    return r;
  }

  /** Opens `path` (relative to the export) with open(2) flags; returns the client's handle. */
  open(path: string, flags: number): Deno.PointerObject {
    const out = new BigUint64Array(1);
    this.check(this.lib.symbols.nfs_open(this.ctx, cstr(path), flags, new Uint8Array(out.buffer)), `open ${path}`);
    const fh = Deno.UnsafePointer.create(out[0]);
    if (fh === null) throw new Error(`open ${path}: no handle`);
    return fh;
  }

  /** Reads up to `n` bytes at `offset` (one READ). */
  pread(fh: Deno.PointerObject, offset: number, n: number): Uint8Array {
    const buf = new Uint8Array(n);
    const got = this.check(this.lib.symbols.nfs_pread(this.ctx, fh, BigInt(offset), BigInt(n), buf), "read");
    return buf.slice(0, got);
  }

  /** Reads up to `n` bytes at `offset` as text. */
  readText(fh: Deno.PointerObject, offset = 0, n = 4096): string {
    return dec.decode(this.pread(fh, offset, n));
  }

  /** Writes `data` at `offset`; returns the count written. */
  pwrite(fh: Deno.PointerObject, offset: number, data: Uint8Array): number {
    const b = new Uint8Array(data);
    return this.check(this.lib.symbols.nfs_pwrite(this.ctx, fh, BigInt(offset), BigInt(b.length), b), "write");
  }

  /** Closes a handle (errors ignored: the server may no longer know it). */
  close(fh: Deno.PointerObject): void {
    this.lib.symbols.nfs_close(this.ctx, fh);
  }

  /** Unmounts and frees everything. */
  destroy(): void {
    if (this.ctx !== null) this.lib.symbols.nfs_destroy_context(this.ctx);
    this.ctx = null;
    this.lib.close();
  }
}
