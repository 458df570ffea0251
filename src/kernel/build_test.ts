/**
 * `vexfs build` for real: for every set of Debian kernel headers installed
 * in /usr/src (bookworm's linux-headers-6.1.0-N-amd64 and bookworm-security's
 * linux-headers-6.12.M+deb12-amd64, which scripts/bootstrap.sh installs for
 * `test`), the program writes the module's sources and builds vexfs.ko with
 * W=1; the build must succeed with no warning at all, and the module must be
 * for that kernel (modinfo's vermagic). Also the refusals: a directory that
 * is not a kernel tree, a kernel older than 6.1, a compiler the headers need
 * that is missing, --load for another kernel than the running one.
 *
 * Each build takes a few seconds (about 3 s for this small module).
 */
import { assert, assertEquals, assertMatch } from "../test_assert.ts";
import { compilerPackage, kernelSources, warningsOf } from "./build.ts";
import { runVexfs } from "../../commands/_testutil.ts";

const vexfs = (args: string[]) => runVexfs(args);

/** The Debian kernel header directories the module is tested against. */
function debianHeaders(): string[] {
  try {
    return [...Deno.readDirSync("/usr/src")].map((e) => `/usr/src/${e.name}`)
      .filter((d) => /\/linux-headers-6\.(1\.0-\d+|12\.\d+\+deb12)-amd64$/.test(d)).sort();
  } catch {
    return [];
  }
}

const HEADERS = debianHeaders();
if (HEADERS.length === 0) {
  console.warn(
    "kernel/build_test: no Debian 6.1/6.12 kernel headers in /usr/src; module builds skipped " +
      "(scripts/bootstrap.sh test installs them)",
  );
}

for (const kdir of HEADERS) {
  Deno.test(`vexfs build --kernel-dir ${kdir}: vexfs.ko, W=1 without a warning`, async () => {
    const out = await Deno.makeTempDir({ prefix: "vexfs-build-" });
    try {
      const r = await vexfs(["build", "--kernel-dir", kdir, "--out", out, "--json"]);
      assertEquals(r.code, 0, r.stderr);
      const doc = JSON.parse(r.stdout);
      assertEquals(doc.warnings, [], `warnings building against ${kdir}:\n${doc.warnings.join("\n")}`);
      assertEquals(r.stderr, "", "nothing on stderr (warnings are printed there)");
      assertEquals(doc.ko, `${out}/vexfs.ko`);
      const release =
        /UTS_RELEASE\s+"([^"]+)"/.exec(Deno.readTextFileSync(`${kdir}/include/generated/utsrelease.h`))![1];
      assertEquals(doc.kernel_release, release);
      const info = await new Deno.Command("modinfo", { args: ["-F", "vermagic", doc.ko], stdout: "piped" }).output();
      assertMatch(new TextDecoder().decode(info.stdout), new RegExp(`^${release.replace(/[+.]/g, "\\$&")} `));
      // The sources written are the program's own kernel/ files.
      for (const [name, bytes] of kernelSources()) assertEquals(Deno.readFileSync(`${out}/${name}`), bytes, name);
      // The plain output is the path of vexfs.ko (built again: kbuild finds nothing to do).
      const plain = await vexfs(["build", "--kernel-dir", kdir, "--out", out]);
      assertEquals([plain.code, plain.stdout], [0, `${out}/vexfs.ko\n`], plain.stderr);
    } finally {
      await Deno.remove(out, { recursive: true });
    }
  });
}

/** A fake kernel build directory: a Makefile and the generated headers that name release, version and compiler. */
async function fakeKernel(release: string, code: number, cc: string): Promise<string> {
  const d = await Deno.makeTempDir({ prefix: "vexfs-fake-kernel-" });
  await Deno.mkdir(`${d}/include/generated/uapi/linux`, { recursive: true });
  await Deno.mkdir(`${d}/include/config`, { recursive: true });
  await Deno.writeTextFile(`${d}/Makefile`, "all:\n\tfalse\n");
  await Deno.writeTextFile(`${d}/include/generated/utsrelease.h`, `#define UTS_RELEASE "${release}"\n`);
  await Deno.writeTextFile(`${d}/include/generated/uapi/linux/version.h`, `#define LINUX_VERSION_CODE ${code}\n`);
  await Deno.writeTextFile(`${d}/include/config/auto.conf`, `CONFIG_CC_VERSION_TEXT="${cc} (Debian) 99.0"\n`);
  return d;
}

Deno.test("vexfs build refuses, with the fix: not a kernel tree, a kernel before 6.1, a missing compiler", async () => {
  const old = await fakeKernel("5.10.0-30-amd64", (5 << 16) | (10 << 8) | 200, "gcc-10");
  const nocc = await fakeKernel("6.1.0-99-amd64", (6 << 16) | (1 << 8) | 1, "x86_64-linux-gnu-gcc-97");
  const empty = await Deno.makeTempDir({ prefix: "vexfs-not-kernel-" });
  try {
    const a = await vexfs(["build", "--kernel-dir", old]);
    assertEquals(a.code, 1);
    assertMatch(
      a.stderr,
      /^vexfs build: kernel 5\.10\.0-30-amd64 \(5\.10\) is older than 6\.1, the oldest VexFS supports/,
    );
    const b = await vexfs(["build", "--kernel-dir", nocc]);
    assertEquals(b.code, 1);
    assert(b.stderr.includes("x86_64-linux-gnu-gcc-97, is not installed: apt-get install gcc-97"), b.stderr);
    const c = await vexfs(["build", "--kernel-dir", empty]);
    assertEquals(c.code, 1);
    assert(c.stderr.includes("is not a prepared kernel build directory"), c.stderr);
    if (HEADERS.length > 0 && !HEADERS.some((h) => h.endsWith(Deno.osRelease()))) {
      const d = await vexfs(["build", "--kernel-dir", HEADERS[0], "--load"]);
      assertEquals(d.code, 1);
      assert(d.stderr.includes(`but this machine runs ${Deno.osRelease()}`), d.stderr);
    }
  } finally {
    for (const d of [old, nocc, empty]) await Deno.remove(d, { recursive: true });
  }
});

Deno.test("build helpers: compiler packages and warning lines", () => {
  assertEquals(compilerPackage("x86_64-linux-gnu-gcc-12"), "gcc-12");
  assertEquals(compilerPackage("gcc-12"), "gcc-12");
  assertEquals(
    warningsOf("  CC [M]  a.o\n/x/a.c:3:5: warning: unused variable 'x' [-Wunused-variable]\nWARNING: modpost: y\nok"),
    ["/x/a.c:3:5: warning: unused variable 'x' [-Wunused-variable]", "WARNING: modpost: y"],
  );
  assert(kernelSources().has("vexfs_fs.h") && kernelSources().has("compat.h") && kernelSources().has("Kbuild"));
});
