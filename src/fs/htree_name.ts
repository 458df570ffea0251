/**
 * The argument checks of the directory hash tree (docs/FORMAT.md §6): valid
 * entry names and link targets.
 * @module
 */
import { FsError } from "../errors.ts";
import { NAME_MAX } from "./htree_block.ts";

/**
 * Validates a name: 1..255 bytes, no `/` or NUL, not `.` or `..`.
 * @throws FsError ENAMETOOLONG if longer than 255 bytes, EINVAL otherwise
 */
export function checkName(name: Uint8Array): void {
  if (!(name instanceof Uint8Array)) {
    throw new FsError("EINVAL", "name must be bytes");
  }
  const err = nameProblem(name);
  if (err === null) return;
  throw new FsError(name.length > NAME_MAX ? "ENAMETOOLONG" : "EINVAL", err);
}

/** Why `name` is not a valid directory entry name, or null if it is. */
export function nameProblem(name: Uint8Array): string | null {
  if (name.length === 0) return "empty name";
  if (name.length > NAME_MAX) {
    return `name of ${name.length} bytes (max ${NAME_MAX})`;
  }
  if (
    name.length <= 2 && name[0] === 0x2e &&
    (name.length === 1 || name[1] === 0x2e)
  ) {
    return `name "${name.length === 1 ? "." : ".."}" is reserved`;
  }
  for (let i = 0; i < name.length; i++) {
    if (name[i] === 0) return "name contains NUL";
    if (name[i] === 0x2f) return "name contains '/'";
  }
  return null;
}

/**
 * Validates what an entry links to: an inode number ≥ 1 and a file type 1..7.
 * @throws FsError EINVAL
 */
export function checkTarget(ino: number, type: number): void {
  if (!Number.isSafeInteger(ino) || ino < 1) {
    throw new FsError("EINVAL", `bad inode number ${ino}`);
  }
  if (!Number.isInteger(type) || type < 1 || type > 7) {
    throw new FsError("EINVAL", `bad file type ${type}`);
  }
}
