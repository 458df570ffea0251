/**
 * The journal's last resort (docs/FORMAT.md §9.4): an operation whose
 * metadata outgrows the whole log is committed as several transactions.
 * @module
 */
import type { Journal } from "../journal/journal.ts";

/**
 * The last resort for an operation too large for the whole log: commit it
 * as several transactions. Each is atomic, the whole is not; a warning says
 * so. Operations that can grow this large split themselves into consistent
 * steps first (FORMAT.md §9.4), so this is not expected to run.
 * @param sbBlock the block of the primary superblock: committed in the last part
 * @param warn where the warning goes
 */
export function commitSplit(
  j: Journal,
  blocks: Map<number, Uint8Array>,
  revokes: number[],
  sbBlock: number,
  warn: (message: string) => void,
): void {
  const sorted = [...blocks.keys()].sort((a, b) => a - b);
  const order = sorted.filter((b) => b !== sbBlock);
  if (blocks.has(sbBlock)) order.push(sbBlock);
  let per = j.hardLimit - 1 - Math.ceil(revokes.length / 4);
  while (per > 1 && j.cost(per, revokes.length) > j.hardLimit) per--;
  warn(
    `an operation changed ${blocks.size} metadata blocks, more than the ${j.maxlen}-block journal holds; ` +
      `it was committed in ${Math.ceil(order.length / per)} parts, so a crash in between could leave it half done ` +
      `(vexfs fsck repairs that); make the journal larger (mkfs --journal-size)`,
  );
  for (let i = 0; i < order.length; i += per) {
    const part = new Map(order.slice(i, i + per).map((b) => [b, blocks.get(b)!]));
    j.commit(part, i === 0 ? revokes : []);
  }
}
