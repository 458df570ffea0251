/**
 * A writer for cpio archives in the "newc" format (SVR4 without CRC), the format
 * the Linux kernel unpacks as an initramfs (Documentation/driver-api/early-userspace/
 * buffer-format.rst in the kernel sources). Used by `src/kernel/qemu.ts` to build the
 * initramfs of the test VMs without an external cpio tool.
 *
 * Layout of one entry: the ASCII magic "070701", then 13 fields of 8 upper-case hex
 * digits (ino, mode, uid, gid, nlink, mtime, filesize, devmajor, devminor, rdevmajor,
 * rdevminor, namesize, check), the name with its NUL (header plus name padded to a
 * multiple of 4), then the data padded to a multiple of 4. The archive ends with an
 * entry named "TRAILER!!!". The kernel accepts several archives concatenated, later
 * entries replacing earlier ones of the same name, which is how a per-run archive
 * (the test script, extra modules) is laid over a cached base archive.
 */

/** One entry: a directory, a regular file, a symlink or a character/block device. */
export type CpioEntry =
  | { type: "dir"; path: string; mode?: number }
  | { type: "file"; path: string; data: Uint8Array; mode?: number }
  | { type: "symlink"; path: string; target: string }
  | { type: "char" | "block"; path: string; major: number; minor: number; mode?: number };

const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;
const S_IFLNK = 0o120000;
const S_IFCHR = 0o020000;
const S_IFBLK = 0o060000;

function hex8(n: number): string {
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw new RangeError(`cpio field out of range: ${n}`);
  return n.toString(16).toUpperCase().padStart(8, "0");
}

/**
 * Encodes entries as one newc archive, trailer included. Paths are written without a
 * leading "/" (the kernel unpacks relative to the root); parents must come before their
 * children (the kernel does not create missing directories). Owner is root, mtime 0.
 *
 * @throws RangeError for an empty path or a file of 4 GiB or more.
 */
export function encodeCpio(entries: CpioEntry[]): Uint8Array {
  const enc = new TextEncoder();
  const chunks: Uint8Array[] = [];
  let size = 0;
  const push = (b: Uint8Array) => {
    chunks.push(b);
    size += b.length;
  };
  const pad = () => {
    const n = (4 - (size % 4)) % 4;
    if (n) push(new Uint8Array(n));
  };
  let ino = 1;
  const write = (name: string, mode: number, data: Uint8Array, rdev: [number, number] = [0, 0]) => {
    const nameBytes = enc.encode(name + "\0");
    const fields = [ino++, mode, 0, 0, (mode & 0o170000) === S_IFDIR ? 2 : 1, 0, data.length, 0, 0, rdev[0], rdev[1]];
    push(enc.encode("070701" + fields.map(hex8).join("") + hex8(nameBytes.length) + hex8(0)));
    push(nameBytes);
    pad();
    if (data.length) push(data);
    pad();
  };
  for (const e of entries) {
    const path = e.path.replace(/^\/+/, "");
    if (!path) throw new RangeError("cpio entry with an empty path");
    switch (e.type) {
      case "dir":
        write(path, S_IFDIR | (e.mode ?? 0o755), new Uint8Array(0));
        break;
      case "file":
        write(path, S_IFREG | (e.mode ?? 0o644), e.data);
        break;
      case "symlink":
        write(path, S_IFLNK | 0o777, enc.encode(e.target));
        break;
      case "char":
      case "block":
        write(path, (e.type === "char" ? S_IFCHR : S_IFBLK) | (e.mode ?? 0o600), new Uint8Array(0), [
          e.major,
          e.minor,
        ]);
        break;
    }
  }
  write("TRAILER!!!", 0, new Uint8Array(0));
  const out = new Uint8Array(size);
  let off = 0;
  for (const c of chunks) {
    out.set(c, off);
    off += c.length;
  }
  return out;
}
