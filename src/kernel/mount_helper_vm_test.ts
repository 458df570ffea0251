/**
 * `mount -t vexfs` and /etc/fstab in Debian's 6.1 and 6.12 kernels under QEMU
 * (issue 11 §3): the `mount.vexfs` helper that `vexfs install` writes
 * (src/install/install.ts) uses the kernel module when /proc/filesystems lists
 * vexfs and the FUSE mount otherwise.
 *
 * One VM per kernel, with the tools image (the real program on the real Deno,
 * tools_image.ts) and the module loaded at boot:
 * - /sbin/mount.vexfs is in the initramfs as `scripts()` of the install code
 *   writes it for the VM's checkout, and an /etc/fstab line for /dev/vda is
 *   mounted by the boot's `mount -a` (qemu.ts `mountAll`): by the module;
 * - `vexfs install` in the VM writes the same helper;
 * - with the module loaded, `mount -t vexfs` and `mount.vexfs` itself mount
 *   through the module;
 * - after `rmmod vexfs`, `mount -t vexfs` fails in the kernel, so mount(8)
 *   runs the helper, which mounts through FUSE; the file reads the same.
 * Skipped with a message without QEMU, the kernel headers or FUSE on the host.
 */
import { assert, assertEquals } from "../test_assert.ts";
import { CAN_MOUNT, withMount } from "../mount/_testutil.ts";
import { scripts } from "../install/install.ts";
import { resolveKernel } from "./debian_kernel.ts";
import { buildModuleFor, hasQemu } from "./_vmtestutil.ts";
import { type KernelSeries, runInVm, summarize } from "./qemu.ts";
import { TOOLS_DIR } from "./tools_image.ts";

/** Whether the module in kernel/ mounts read-write (the write path has landed). */
function moduleWrites(): boolean {
  const src = Deno.readTextFileSync(new URL("../../kernel/super.c", import.meta.url));
  return !/mounts read-only only/.test(src);
}

for (const series of ["6.1", "6.12"] as KernelSeries[]) {
  Deno.test({
    name: `QEMU ${series}: mount -t vexfs and fstab go through mount.vexfs: the module when loaded, FUSE otherwise`,
    sanitizeResources: false,
    sanitizeOps: false,
  }, async () => {
    if (!hasQemu() || !CAN_MOUNT) {
      console.warn("mount_helper_vm_test: QEMU or FUSE missing, skipped (scripts/bootstrap.sh test installs them)");
      return;
    }
    const k = await resolveKernel(series);
    try {
      Deno.statSync(`/usr/src/${k.headersPackage}/Makefile`);
    } catch {
      console.warn(`mount_helper_vm_test: /usr/src/${k.headersPackage} missing, skipped`);
      return;
    }
    let img = "";
    await withMount({ size: 32 << 20, keepImage: true }, async (mnt, image) => {
      img = image;
      await Deno.writeTextFile(`${mnt}/hello.txt`, "hello from the host\n");
    });
    const built = await buildModuleFor(series);
    try {
      // the helper as `vexfs install` writes it for the VM's checkout (tools_image.ts layout)
      const helper = scripts({
        main: `${TOOLS_DIR}/vexfs/main.ts`,
        deno: `${TOOLS_DIR}/vexfs/node_modules/deno/deno`,
      })["mount.vexfs"];
      const rw = moduleWrites() ? "defaults" : "ro";
      const r = await runInVm({
        kernel: series,
        disks: [img],
        modules: [built.ko],
        tools: true,
        mountAll: true,
        timeoutMs: 900_000,
        files: {
          "/sbin/mount.vexfs": helper,
          "/etc/mount.vexfs.boot": helper,
          "/etc/fstab": `# VexFS at boot\n/dev/vda /mnt/boot vexfs ${rw} 0 0\n`,
        },
        script: `
export PATH=/sbin:/usr/sbin:$PATH
fstype() { grep " $1 " /proc/mounts | cut -d' ' -f3; }
t_eq "fstab line mounted at boot, by the module" vexfs "$(fstype /mnt/boot)"
t_eq "a file through the boot mount" "hello from the host" "$(cat /mnt/boot/hello.txt)"
t_check "umount the boot mount" umount /mnt/boot
t_check "vexfs install" vexfs install
t_check "vexfs install writes the helper booted with" cmp /sbin/mount.vexfs /etc/mount.vexfs.boot
mkdir -p /mnt/k /mnt/h /mnt/f
t_check "mount -t vexfs (module loaded)" mount -t vexfs -o ro /dev/vda /mnt/k
t_eq "served by the module" vexfs "$(fstype /mnt/k)"
t_check "umount" umount /mnt/k
t_check "mount.vexfs (module loaded)" mount.vexfs /dev/vda /mnt/h -o ro
t_eq "the helper chose the module" vexfs "$(fstype /mnt/h)"
t_check "umount" umount /mnt/h
t_check "rmmod vexfs" rmmod vexfs
t_check "vexfs no longer in /proc/filesystems" sh -c '! grep -qw vexfs /proc/filesystems'
t_check "mount -t vexfs (no module): mount.vexfs, FUSE" mount -t vexfs /dev/vda /mnt/f
t_eq "served by FUSE" fuse "$(fstype /mnt/f | cut -d. -f1)"
t_eq "the same file through FUSE" "hello from the host" "$(cat /mnt/f/hello.txt)"
t_check "vexfs umount" vexfs umount /mnt/f
`,
      });
      assert(r.ok, `${summarize(r)}\n${r.log.slice(-15_000)}`);
      assert(/vmtest: mount -a exit 0/.test(r.log), "mount -a at boot succeeded");
      assertEquals(r.failed, []);
      assertEquals(r.passed.length, 18, r.passed.join(", "));
      console.log(`${summarize(r)}; whole VM ${r.totalSeconds.toFixed(1)} s`);
    } finally {
      await built.dispose();
      await Deno.remove(img).catch(() => {});
    }
  });
}
