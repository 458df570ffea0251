/**
 * Checks every layout and constant in abi.ts against the installed libfuse 3
 * headers by compiling and running a generated C program.
 *
 * Needs: gcc (or any `cc`), pkg-config, libfuse3-dev. A missing tool fails
 * the test with the Debian package to install; it never passes silently.
 */
import { assertEquals } from "../test_assert.ts";
import {
  C_CONSTANTS,
  decodeFileInfo,
  decodeStat,
  decodeStatvfs,
  encodeEntryParam,
  encodeFileInfo,
  encodeStat,
  encodeStatvfs,
  FILE_INFO_BITFIELD_OFFSET,
  FILE_INFO_BITS,
  FUSE_ARGS,
  FUSE_BUF,
  FUSE_CONN_INFO,
  FUSE_CTX,
  FUSE_ENTRY_PARAM,
  FUSE_FILE_INFO,
  FUSE_USE_VERSION,
  LOWLEVEL_OPS_SIZE,
  LOWLEVEL_OPS_SLOTS,
  opsSlotOffset,
  POLLFD,
  STAT,
  STATVFS,
  type StructLayout,
  TIMESPEC,
} from "./abi.ts";

const STRUCTS: StructLayout[] = [
  TIMESPEC,
  STAT,
  STATVFS,
  FUSE_ENTRY_PARAM,
  FUSE_FILE_INFO,
  FUSE_CTX,
  FUSE_CONN_INFO,
  FUSE_ARGS,
  FUSE_BUF,
  POLLFD,
];

async function run(
  cmd: string,
  args: string[],
  pkg: string,
): Promise<{ code: number; stdout: string; stderr: string }> {
  let out: Deno.CommandOutput;
  try {
    out = await new Deno.Command(cmd, {
      args,
      stdout: "piped",
      stderr: "piped",
    })
      .output();
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      throw new Error(
        `'${cmd}' not found: install it with 'apt-get install -y ${pkg}'`,
      );
    }
    throw e;
  }
  const dec = new TextDecoder();
  return {
    code: out.code,
    stdout: dec.decode(out.stdout),
    stderr: dec.decode(out.stderr),
  };
}

/** Generate the probe program from the TS tables. */
function cProgram(): string {
  const L: string[] = [];
  L.push(`#define FUSE_USE_VERSION ${FUSE_USE_VERSION}`);
  L.push("#define _GNU_SOURCE");
  L.push("#include <fuse_lowlevel.h>");
  L.push("#include <stdio.h>");
  L.push("#include <stddef.h>");
  L.push("#include <string.h>");
  L.push("#include <sys/stat.h>");
  L.push("#include <sys/statvfs.h>");
  L.push("#include <sys/xattr.h>");
  L.push("#include <sys/eventfd.h>");
  L.push("#include <fcntl.h>");
  L.push("#include <poll.h>");
  L.push("static void dump(const char *tag, const void *p, size_t n) {");
  L.push('  const unsigned char *b = p; printf("dump\\t%s\\t", tag);');
  L.push('  for (size_t i = 0; i < n; i++) printf("%02x", b[i]);');
  L.push('  printf("\\n");');
  L.push("}");
  L.push("int main(void) {");
  for (const s of STRUCTS) {
    L.push(`  printf("size\\t%s\\t%zu\\n", "${s.cName}", sizeof(${s.cName}));`);
    for (const f of Object.keys(s.fields)) {
      L.push(
        `  printf("field\\t%s\\t%s\\t%zu\\t%zu\\n", "${s.cName}", "${f}", ` +
          `offsetof(${s.cName}, ${f}), sizeof(((${s.cName} *)0)->${f}));`,
      );
    }
  }
  L.push(
    `  printf("size\\tstruct fuse_lowlevel_ops\\t%zu\\n", sizeof(struct fuse_lowlevel_ops));`,
  );
  for (const slot of LOWLEVEL_OPS_SLOTS) {
    L.push(
      `  printf("slot\\t%s\\t%zu\\t%zu\\n", "${slot}", offsetof(struct fuse_lowlevel_ops, ${slot}), sizeof(((struct fuse_lowlevel_ops *)0)->${slot}));`,
    );
  }
  // Bitfields: set one at a time and find the set bit.
  for (const bit of Object.keys(FILE_INFO_BITS)) {
    L.push("  {");
    L.push("    struct fuse_file_info fi; memset(&fi, 0, sizeof fi);");
    L.push(`    fi.${bit} = 1;`);
    L.push("    const unsigned char *b = (const unsigned char *)&fi;");
    L.push("    int pos = -1, count = 0;");
    L.push("    for (size_t i = 0; i < sizeof fi; i++)");
    L.push("      for (int j = 0; j < 8; j++)");
    L.push(
      "        if (b[i] & (1u << j)) { pos = (int)(i * 8 + j); count++; }",
    );
    L.push(`    printf("bit\\t%s\\t%d\\t%d\\n", "${bit}", pos, count);`);
    L.push("  }");
  }
  for (const name of Object.keys(C_CONSTANTS)) {
    L.push(
      `  printf("const\\t%s\\t%lld\\n", "${name}", (long long)(${name}));`,
    );
  }
  // Sample values for encode/decode round trips.
  L.push("  {");
  L.push("    struct stat st; memset(&st, 0, sizeof st);");
  L.push("    st.st_dev = 7; st.st_ino = 0x123456789abcULL; st.st_nlink = 3;");
  L.push("    st.st_mode = 0100644; st.st_uid = 1000; st.st_gid = 2000;");
  L.push("    st.st_rdev = 0x0801; st.st_size = 5000000000LL;");
  L.push("    st.st_blksize = 4096; st.st_blocks = 9765625;");
  L.push("    st.st_atim.tv_sec = 1700000000; st.st_atim.tv_nsec = 1;");
  L.push("    st.st_mtim.tv_sec = 1700000001; st.st_mtim.tv_nsec = 999999999;");
  L.push("    st.st_ctim.tv_sec = -1; st.st_ctim.tv_nsec = 500;");
  L.push('    dump("stat", &st, sizeof st);');
  L.push("  }");
  L.push("  {");
  L.push("    struct fuse_file_info fi; memset(&fi, 0, sizeof fi);");
  L.push("    fi.flags = 0101102; fi.direct_io = 1; fi.nonseekable = 1;");
  L.push("    fi.noflush = 1; fi.fh = 0xfedcba9876543210ULL;");
  L.push("    fi.lock_owner = 42; fi.poll_events = 5;");
  L.push('    dump("fi", &fi, sizeof fi);');
  L.push("  }");
  L.push("  {");
  L.push("    struct fuse_entry_param e; memset(&e, 0, sizeof e);");
  L.push("    e.ino = 99; e.generation = 4; e.attr.st_ino = 99;");
  L.push("    e.attr.st_mode = 040755; e.attr.st_nlink = 2;");
  L.push("    e.attr.st_blksize = 4096;");
  L.push("    e.attr_timeout = 1.5; e.entry_timeout = 2.25;");
  L.push('    dump("entry", &e, sizeof e);');
  L.push("  }");
  L.push("  {");
  L.push("    struct statvfs v; memset(&v, 0, sizeof v);");
  L.push("    v.f_bsize = 4096; v.f_frsize = 4096; v.f_blocks = 1000;");
  L.push("    v.f_bfree = 400; v.f_bavail = 300; v.f_files = 77;");
  L.push("    v.f_ffree = 50; v.f_favail = 50; v.f_namemax = 255;");
  L.push('    dump("statvfs", &v, sizeof v);');
  L.push("  }");
  L.push("  return 0;");
  L.push("}");
  return L.join("\n") + "\n";
}

function hex(b: Uint8Array): string {
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}

function unhex(s: string): Uint8Array {
  const out = new Uint8Array(s.length / 2);
  for (let i = 0; i < out.length; i++) {
    out[i] = parseInt(s.slice(i * 2, i * 2 + 2), 16);
  }
  return out;
}

Deno.test("abi.ts matches the installed libfuse3 headers", async () => {
  const pc = await run(
    "pkg-config",
    ["--cflags", "--libs", "fuse3"],
    "pkg-config",
  );
  if (pc.code !== 0) {
    throw new Error(
      "pkg-config cannot find fuse3: install the headers with " +
        "'apt-get install -y libfuse3-dev'\n" + pc.stderr,
    );
  }
  const dir = await Deno.makeTempDir({ prefix: "vexfs-abi-" });
  try {
    const src = `${dir}/probe.c`;
    const exe = `${dir}/probe`;
    await Deno.writeTextFile(src, cProgram());
    const flags = pc.stdout.trim().split(/\s+/).filter((s) => s.length > 0);
    const cc = await run("cc", [src, "-o", exe, ...flags], "gcc");
    if (cc.code !== 0) {
      const hint = /fuse_lowlevel\.h|fuse3/.test(cc.stderr) ? "install 'libfuse3-dev'" : "check the generated program";
      throw new Error(`cc failed (${hint}):\n${cc.stderr}`);
    }
    const probe = await run(exe, [], "(none)");
    assertEquals(probe.code, 0, probe.stderr);

    const sizes = new Map<string, number>();
    const fields = new Map<string, [number, number]>();
    const slots = new Map<string, [number, number]>();
    const bits = new Map<string, [number, number]>();
    const consts = new Map<string, number>();
    const dumps = new Map<string, Uint8Array>();
    for (const line of probe.stdout.trim().split("\n")) {
      const p = line.split("\t");
      switch (p[0]) {
        case "size":
          sizes.set(p[1], Number(p[2]));
          break;
        case "field":
          fields.set(`${p[1]}.${p[2]}`, [Number(p[3]), Number(p[4])]);
          break;
        case "slot":
          slots.set(p[1], [Number(p[2]), Number(p[3])]);
          break;
        case "bit":
          bits.set(p[1], [Number(p[2]), Number(p[3])]);
          break;
        case "const":
          consts.set(p[1], Number(p[2]));
          break;
        case "dump":
          dumps.set(p[1], unhex(p[2]));
          break;
      }
    }

    // Struct sizes and member offsets/sizes.
    for (const s of STRUCTS) {
      assertEquals(sizes.get(s.cName), s.size, `sizeof(${s.cName})`);
      for (const [f, want] of Object.entries(s.fields)) {
        assertEquals(
          fields.get(`${s.cName}.${f}`),
          [...want],
          `${s.cName}.${f}`,
        );
      }
    }
    // Ops table.
    assertEquals(sizes.get("struct fuse_lowlevel_ops"), LOWLEVEL_OPS_SIZE);
    assertEquals(slots.size, LOWLEVEL_OPS_SLOTS.length);
    for (const slot of LOWLEVEL_OPS_SLOTS) {
      assertEquals(slots.get(slot), [opsSlotOffset(slot), 8], `ops.${slot}`);
    }
    // Bitfields: absolute bit position from struct start.
    for (const [name, bit] of Object.entries(FILE_INFO_BITS)) {
      assertEquals(
        bits.get(name),
        [FILE_INFO_BITFIELD_OFFSET * 8 + bit, 1],
        `fuse_file_info.${name} bit`,
      );
    }
    // Constants.
    for (const [name, v] of Object.entries(C_CONSTANTS)) {
      assertEquals(consts.get(name), v, name);
    }

    // Encode/decode helpers against bytes produced by C.
    const st = dumps.get("stat")!;
    const stat = decodeStat(new DataView(st.buffer), 0);
    assertEquals(stat.ino, 0x123456789abcn);
    assertEquals(stat.mode, 0o100644);
    assertEquals(stat.size, 5000000000n);
    assertEquals(stat.atimeNs, 1700000000_000000001n);
    assertEquals(stat.ctimeNs, -1_000000000n + 500n);
    const mine = new Uint8Array(STAT.size);
    encodeStat(new DataView(mine.buffer), 0, stat);
    assertEquals(hex(mine), hex(st), "encodeStat(decodeStat(x)) == x");

    const fiBytes = dumps.get("fi")!;
    const fi = decodeFileInfo(new DataView(fiBytes.buffer), 0);
    assertEquals(fi.flags, 0o101102);
    assertEquals(
      [fi.directIo, fi.nonseekable, fi.noflush, fi.keepCache, fi.writepage],
      [true, true, true, false, false],
    );
    assertEquals(fi.fh, 0xfedcba9876543210n);
    assertEquals(fi.lockOwner, 42n);
    assertEquals(fi.pollEvents, 5);
    const fiMine = new Uint8Array(FUSE_FILE_INFO.size);
    encodeFileInfo(new DataView(fiMine.buffer), 0, fi);
    assertEquals(hex(fiMine), hex(fiBytes), "encodeFileInfo");

    const e = new Uint8Array(FUSE_ENTRY_PARAM.size);
    encodeEntryParam(new DataView(e.buffer), 0, {
      ino: 99,
      generation: 4,
      attr: { mode: 0o40755, nlink: 2 },
      attrTimeout: 1.5,
      entryTimeout: 2.25,
    });
    assertEquals(hex(e), hex(dumps.get("entry")!), "encodeEntryParam");

    const v = dumps.get("statvfs")!;
    const vfs = decodeStatvfs(new DataView(v.buffer), 0);
    assertEquals(vfs.blocks, 1000n);
    const vMine = new Uint8Array(STATVFS.size);
    encodeStatvfs(new DataView(vMine.buffer), 0, {
      bsize: 4096,
      blocks: 1000,
      bfree: 400,
      bavail: 300,
      files: 77,
      ffree: 50,
    });
    assertEquals(hex(vMine), hex(v), "encodeStatvfs");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
