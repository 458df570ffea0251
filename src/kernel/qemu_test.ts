/**
 * Tests of the QEMU harness (`qemu.ts`, `debian_kernel.ts`, `cpio.ts`): the pure parts
 * against oracles (Debian's cpio tool, hand-written logs), then real boots of both
 * Debian kernels under TCG: `uname -r` is the package's, an ext4 image made on the host
 * mounts on /dev/vda and a host file reads back with the same sha256, a file written in
 * the VM is on the image after poweroff (debugfs) and the image is fsck-clean, and a
 * provoked kernel crash (`echo c > /proc/sysrq-trigger`) is reported as one.
 */

import assert from "node:assert/strict";
import { encodeCpio } from "./cpio.ts";
import { extractVmlinux, moduleName, parseModulesDep, pickKernel } from "./debian_kernel.ts";
import { type KernelSeries, parseVmLog, runInVm, summarize } from "./qemu.ts";

async function sh(
  cmd: string,
  args: string[],
  stdin?: Uint8Array,
): Promise<{ code: number; out: string; err: string }> {
  const child = new Deno.Command(cmd, { args, stdin: stdin ? "piped" : "null", stdout: "piped", stderr: "piped" })
    .spawn();
  if (stdin) {
    const w = child.stdin.getWriter();
    await w.write(stdin);
    await w.close();
  }
  const o = await child.output();
  const dec = new TextDecoder();
  return { code: o.code, out: dec.decode(o.stdout), err: dec.decode(o.stderr) };
}

async function sha256(data: Uint8Array<ArrayBuffer>): Promise<string> {
  const h = new Uint8Array(await crypto.subtle.digest("SHA-256", data));
  return [...h].map((b) => b.toString(16).padStart(2, "0")).join("");
}

Deno.test("encodeCpio: Debian's cpio lists and extracts the entries with their types, modes and bytes", async () => {
  const data = new Uint8Array(1001).map((_, i) => (i * 7) & 0xff);
  const archive = encodeCpio([
    { type: "dir", path: "/d" },
    { type: "file", path: "d/f", data, mode: 0o640 },
    { type: "file", path: "d/empty", data: new Uint8Array(0) },
    { type: "symlink", path: "d/l", target: "f" },
    { type: "char", path: "d/null", major: 1, minor: 3 },
  ]);
  assert.equal(archive.length % 4, 0);
  const list = await sh("cpio", ["-itv", "--quiet"], archive);
  assert.equal(list.code, 0, list.err);
  const lines = list.out.trim().split("\n");
  assert.equal(lines.length, 5);
  assert.match(lines[0], /^drwxr-xr-x .* d$/);
  assert.match(lines[1], /^-rw-r----- .* 1001 .* d\/f$/);
  assert.match(lines[3], /^lrwxrwxrwx .* d\/l -> f$/);
  assert.match(lines[4], /^crw------- .* 1,\s+3 .* d\/null$/);
  const dir = await Deno.makeTempDir();
  try {
    const x = await sh(
      "sh",
      ["-c", `cd ${dir} && cpio -id --quiet --no-absolute-filenames 2>&1 | grep -v mknod`],
      archive,
    );
    assert.equal(x.code === 0 || x.code === 1, true, x.err);
    assert.deepEqual(await Deno.readFile(`${dir}/d/f`), data);
    assert.equal(await Deno.readLink(`${dir}/d/l`), "f");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("pickKernel: the newest N/M that has both image and headers; a clear error when none", () => {
  const names = [
    "linux-image-6.1.0-50-amd64",
    "linux-image-6.1.0-57-amd64",
    "linux-image-6.1.0-58-amd64", // no headers yet
    "linux-headers-6.1.0-50-amd64",
    "linux-headers-6.1.0-57-amd64",
    "linux-headers-6.1.0-57-rt-amd64",
    "linux-image-6.1.0-59-cloud-amd64",
    "linux-image-6.12.9+deb12-amd64",
    "linux-image-6.12.118+deb12-amd64",
    "linux-headers-6.12.9+deb12-amd64",
    "linux-headers-6.12.118+deb12-amd64",
    "linux-headers-6.12-amd64",
  ];
  assert.deepEqual(pickKernel("6.1", names), {
    series: "6.1",
    release: "6.1.0-57-amd64",
    imagePackage: "linux-image-6.1.0-57-amd64",
    headersPackage: "linux-headers-6.1.0-57-amd64",
  });
  assert.equal(pickKernel("6.12", names).release, "6.12.118+deb12-amd64"); // numeric, not lexical
  assert.throws(() => pickKernel("6.12", names.slice(0, 6)), /no Debian kernel 6\.12 .*bookworm-security/);
});

Deno.test("parseModulesDep and moduleName: names as the kernel spells them, dependencies in depmod order", () => {
  const m = parseModulesDep(
    "kernel/fs/ext4/ext4.ko.xz: kernel/lib/crc16.ko.xz kernel/fs/mbcache.ko.xz kernel/fs/jbd2/jbd2.ko.xz\n" +
      "kernel/drivers/md/dm-log-writes.ko: kernel/drivers/md/dm-mod.ko\nkernel/lib/crc16.ko.xz:\n",
  );
  assert.deepEqual(m.get("ext4")?.deps, ["crc16", "mbcache", "jbd2"]);
  assert.deepEqual(m.get("dm_log_writes")?.deps, ["dm_mod"]);
  assert.deepEqual(m.get("crc16")?.deps, []);
  assert.equal(moduleName("/x/vexfs.ko"), "vexfs");
});

Deno.test("parseVmLog: tests, script exit, poweroff, and crashes on the console or in the kernel log", () => {
  const log = [
    "[    0.9] Run /init",
    "vmtest: ready 6.1.0-57-amd64 uptime 2.01\r",
    "ok uname\r",
    "not ok mount ext4",
    "# mount: invalid argument",
    "okay this is not a test line",
    "vmtest: script exit 0",
    "vmtest: dmesg begin",
    "dmesg: ok not-a-test",
    "dmesg: [   3.1] WARNING: CPU: 0 PID: 77 at fs/vexfs/super.c:10 vexfs_fill_super+0x1/0x2 [vexfs]",
    "vmtest: dmesg end",
    "vmtest: poweroff",
  ].join("\n");
  const p = parseVmLog(log);
  assert.deepEqual(p.passed, ["uname"]);
  assert.deepEqual(p.failed, ["mount ext4"]);
  assert.equal(p.scriptExit, 0);
  assert.equal(p.finished, true);
  assert.equal(p.release, "6.1.0-57-amd64");
  assert.equal(p.crashes.length, 1);
  const panic = parseVmLog(
    "vmtest: ready 6.12.1+deb12-amd64 uptime 1\n[ 4.0] Kernel panic - not syncing: sysrq triggered crash\n",
  );
  assert.equal(panic.finished, false);
  assert.equal(panic.scriptExit, null);
  assert.deepEqual(panic.crashes, ["[ 4.0] Kernel panic - not syncing: sysrq triggered crash"]);
  assert.deepEqual(parseVmLog("vmtest: ready x uptime 1\nok a\nvmtest: script exit 0\nvmtest: poweroff\n").crashes, []);
});

Deno.test("extractVmlinux: the ELF kernel of a bzImage, checked against the size Kbuild appends; null otherwise", async () => {
  const elf = new Uint8Array(100_000).map((_, i) => (i * 31) & 0xff);
  elf.set([0x7f, 0x45, 0x4c, 0x46]);
  const gz = new Uint8Array(
    await new Response(new Blob([elf]).stream().pipeThrough(new CompressionStream("gzip"))).arrayBuffer(),
  );
  const bz = (sizeField: number) => {
    const setupSects = 3, payloadOffset = 0x100, pm = (setupSects + 1) * 512;
    const b = new Uint8Array(pm + payloadOffset + gz.length + 4 + 64);
    const v = new DataView(b.buffer);
    b[0x1f1] = setupSects;
    v.setUint32(0x202, 0x53726448, true);
    v.setUint32(0x248, payloadOffset, true);
    v.setUint32(0x24c, gz.length + 4, true);
    b.set(gz, pm + payloadOffset);
    v.setUint32(pm + payloadOffset + gz.length, sizeField, true);
    return b;
  };
  assert.deepEqual(await extractVmlinux(bz(elf.length)), elf);
  assert.equal(await extractVmlinux(bz(elf.length + 1)), null, "a size that does not match is refused");
  assert.equal(await extractVmlinux(new Uint8Array(4096)), null, "no HdrS signature");
});

/** An ext4 image made on the host with `mkfs.ext4 -d` from a directory holding `host.bin`. */
async function ext4Image(content: Uint8Array): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "vexfs-qemu-ext4-" });
  const img = await Deno.makeTempFile({ prefix: "vexfs-qemu-", suffix: ".img" });
  try {
    await Deno.writeFile(`${dir}/host.bin`, content);
    const r = await sh("mkfs.ext4", ["-q", "-F", "-d", dir, img, "16M"]);
    assert.equal(r.code, 0, r.err);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
  return img;
}

for (const series of ["6.1", "6.12"] as KernelSeries[]) {
  Deno.test(`QEMU ${series}: boots Debian's kernel; ext4 on a virtio disk carries files both ways`, async () => {
    const content = crypto.getRandomValues(new Uint8Array(65536));
    const want = await sha256(content);
    const img = await ext4Image(content);
    try {
      const r = await runInVm({
        kernel: series,
        disks: [img],
        script: `
t_eq "uname -r" "$(cat /proc/sys/kernel/osrelease)" "$(uname -r)"
t_check "mount ext4" mount -t ext4 /dev/vda /mnt
t_eq "sha256 of host file" "${want}" "$(sha256sum /mnt/host.bin | cut -d' ' -f1)"
uname -r > /mnt/vm.txt && echo written-in-vm >> /mnt/vm.txt
t_check "umount" umount /mnt
`,
      });
      assert.equal(r.ok, true, `${summarize(r)}\n${r.log}`);
      assert.equal(r.release, r.kernel.release, "uname -r is the package's release");
      assert.notEqual(r.kernel.vmlinux, null, "the uncompressed kernel was extracted (PVH boot, ~2 s faster)");
      assert.deepEqual(r.passed, ["uname -r", "mount ext4", "sha256 of host file", "umount"]);
      const cat = await sh("debugfs", ["-R", "cat /vm.txt", img]);
      assert.equal(cat.out, `${r.kernel.release}\nwritten-in-vm\n`, cat.err);
      const fsck = await sh("e2fsck", ["-fn", img]);
      assert.equal(fsck.code, 0, fsck.out + fsck.err);
      console.log(`${summarize(r)}; boot ${r.bootSeconds?.toFixed(1)} s, whole VM ${r.totalSeconds.toFixed(1)} s`);
    } finally {
      await Deno.remove(img);
    }
  });

  Deno.test(`QEMU ${series}: a kernel crash in the VM fails the run, whatever the script printed`, async () => {
    const r = await runInVm({
      kernel: series,
      script: `t_ok "before the crash"\necho c > /proc/sysrq-trigger\nt_ok "after the crash"\n`,
      timeoutMs: 90_000,
    });
    assert.equal(r.ok, false, r.log);
    assert.equal(r.timedOut, false, r.log);
    assert.equal(r.finished, false, r.log);
    assert.deepEqual(r.passed, ["before the crash"]);
    assert.ok(r.crashes.some((l) => /Kernel panic - not syncing: sysrq triggered crash/.test(l)), r.log);
    assert.match(summarize(r), /1 passed, 0 failed \(kernel crash: .*sysrq/);
  });
}
