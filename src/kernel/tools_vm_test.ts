/**
 * The tools image (`tools_image.ts`) in the QEMU harness, on Debian's 6.1 and 6.12:
 * inside the VM the real program runs on the real Deno (`vexfs --version` prints what
 * it prints on the host), /dev/fuse works, and `vexfs mount` serves an image made on
 * the host through FUSE: a file written there reads back, `vexfs umount` writes it
 * back and `vexfs fsck -n` in the VM finds the image clean; on the host the file is
 * there with its contents and the image is fsck-clean.
 * One VM boot per kernel.
 */

import assert from "node:assert/strict";
import { assertFsckClean, tmpImage } from "../fs/_testutil.ts";
import { mountTest, withMount } from "../mount/_testutil.ts";
import { runVexfs } from "../../commands/_testutil.ts";
import { type KernelSeries, runInVm, summarize } from "./qemu.ts";

for (const series of ["6.1", "6.12"] as KernelSeries[]) {
  Deno.test({
    name: `QEMU ${series}: the tools image runs vexfs (real Deno) and a FUSE mount inside the VM`,
    ...mountTest,
    fn: async () => {
      const version = (await runVexfs(["--version"])).stdout.trim();
      assert.match(version, /^\d+\.\d+\.\d+/);
      const img = tmpImage(32 << 20);
      try {
        const r = await runInVm({
          kernel: series,
          disks: [img],
          tools: true,
          timeoutMs: 240_000,
          script: `
t_eq "vexfs --version" "${version}" "$(vexfs --version 2>&1)"
t_check "/dev/fuse is a character device" test -c /dev/fuse
t_check "fuse registered" grep -qw fuse /proc/filesystems
mkdir -p /mnt/v
t_check "vexfs mount (FUSE)" vexfs mount /dev/vda /mnt/v
t_eq "mounted through FUSE" fuse "$(grep ' /mnt/v ' /proc/mounts | cut -d' ' -f3 | cut -d. -f1)"
echo "written in the VM" > /mnt/v/from-vm.txt
t_eq "file reads back" "written in the VM" "$(cat /mnt/v/from-vm.txt)"
t_check "vexfs umount" vexfs umount /mnt/v
t_check "unmounted" sh -c "! grep -q ' /mnt/v ' /proc/mounts"
t_check "vexfs fsck -n in the VM" vexfs fsck -n /dev/vda
`,
        });
        assert.equal(r.ok, true, `${summarize(r)}\n${r.log}`);
        assert.equal(r.passed.length, 9, r.passed.join(", "));
        assertFsckClean(img);
        const text = await withMount({ image: img }, (mnt) => Deno.readTextFileSync(`${mnt}/from-vm.txt`));
        assert.equal(text, "written in the VM\n");
        console.log(`${summarize(r)}; whole VM ${r.totalSeconds.toFixed(1)} s`);
      } finally {
        await Deno.remove(img);
      }
    },
  });
}
