/**
 * Progress displays (commands/progress.ts): the plain lines on a clock the
 * test drives, and for real: `vexfs import` and `vexfs fsck` with stderr
 * piped and a short VEXFS_PROGRESS_INTERVAL print periodic lines with
 * counts, rate and ETA and a closing line, and nothing with -q.
 */
import assert from "node:assert/strict";
import { barCells, progress, progressIntervalMs, progressMode } from "./progress.ts";
import { vexfsArgv } from "../src/mount/self.ts";

function clocked(total: number, unit: string, intervalMs = 5000) {
  let t = 0;
  const lines: string[] = [];
  const p = progress("import", total, { unit, mode: "lines", intervalMs, now: () => t, write: (l) => lines.push(l) });
  return { p, lines, tick: (ms: number) => (t += ms) };
}

Deno.test("plain lines: one per interval with count, percentage, rate and ETA, then a closing line", () => {
  const { p, lines, tick } = clocked(50_000, "files");
  tick(1000);
  p.update(3_000); // 1 s: before the first interval
  assert.deepEqual(lines, []);
  tick(3000);
  p.update(12_000); // 4 s
  tick(1000);
  p.update(15_500); // 5 s: 3,100 files/s, 34,500 left → 11.1 s
  assert.deepEqual(lines, ["import: 15,500/50,000 files (31%), 3,100 files/s, ETA 11 s"]);
  tick(2000);
  p.increment(100); // within the next interval: nothing
  assert.equal(lines.length, 1);
  tick(9000);
  p.update(50_000); // 16 s
  p.stop();
  p.stop(); // once only
  assert.deepEqual(lines.slice(1), [
    "import: 50,000/50,000 files (100%), 3,125 files/s",
    "import: 50,000/50,000 files in 16 s (3,125 files/s)",
  ]);
});

Deno.test("plain lines: short work prints nothing at all; bytes print as sizes; unknown totals have no ETA", () => {
  const short = clocked(10, "files");
  short.tick(10);
  short.p.update(10);
  short.p.stop();
  assert.deepEqual(short.lines, []);

  const b = clocked(100 * 2 ** 20, "bytes", 1000);
  b.tick(2000);
  b.p.update(25 * 2 ** 20);
  assert.deepEqual(b.lines, ["import: 25 MiB/100 MiB (25%), 12.5 MiB/s, ETA 6 s"]);

  const u = clocked(0, "records", 1000);
  u.tick(1000);
  u.p.update(1234);
  assert.deepEqual(u.lines, ["import: 1,234 records, 1,234 records/s"]);
});

Deno.test("plain lines: a new phase label restarts the rate; the closing line says done", () => {
  let t = 0;
  const lines: string[] = [];
  const p = progress("fsck", 0, {
    unit: "",
    mode: "lines",
    intervalMs: 1000,
    now: () => t,
    write: (l) => lines.push(l),
  });
  p.update(0, 100, "fsck: inodes");
  t = 1000;
  p.update(100, 100, "fsck: inodes");
  t = 3000;
  p.update(50, 200, "fsck: directories"); // phase started at 3000
  t = 4000;
  p.update(150, 200, "fsck: directories");
  p.stop();
  assert.deepEqual(lines, [
    "fsck: inodes: 100/100 (100%), 100/s",
    "fsck: directories: 50/200 (25%), –/s",
    "fsck: directories: 150/200 (75%), 150/s, ETA 333 ms",
    "fsck: done in 4 s",
  ]);
});

Deno.test("quiet and mode none show nothing; the environment picks the mode and interval", () => {
  const lines: string[] = [];
  const p = progress("x", 10, { quiet: true, mode: "lines", intervalMs: 1, write: (l) => lines.push(l) });
  for (let i = 0; i < 10; i++) p.increment();
  p.stop();
  assert.deepEqual(lines, []);
  const saved = ["VEXFS_PROGRESS", "VEXFS_NO_PROGRESS", "VEXFS_PROGRESS_INTERVAL"].map((k) => [k, Deno.env.get(k)]);
  try {
    Deno.env.set("VEXFS_PROGRESS", "lines");
    assert.equal(progressMode(), "lines");
    Deno.env.set("VEXFS_PROGRESS", "sometimes");
    assert.throws(() => progressMode(), /VEXFS_PROGRESS must be bar, lines or none/);
    Deno.env.delete("VEXFS_PROGRESS");
    Deno.env.set("VEXFS_NO_PROGRESS", "1");
    assert.equal(progressMode(), "none");
    Deno.env.set("VEXFS_PROGRESS_INTERVAL", "0.25");
    assert.equal(progressIntervalMs(), 250);
    Deno.env.set("VEXFS_PROGRESS_INTERVAL", "-1");
    assert.throws(() => progressIntervalMs(), /positive number of seconds/);
  } finally {
    for (const [k, v] of saved) v === undefined ? Deno.env.delete(k!) : Deno.env.set(k!, v);
  }
});

async function vexfs(args: string[], env: Record<string, string> = {}) {
  const [exe, ...rest] = vexfsArgv(args);
  const r = await new Deno.Command(exe, {
    args: rest,
    env: { NO_COLOR: "1", ...env },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  return { code: r.code, stdout: new TextDecoder().decode(r.stdout), stderr: new TextDecoder().decode(r.stderr) };
}

Deno.test("vexfs import, export, index build and fsck with stderr piped print periodic progress lines, none with -q", async () => {
  const dir = await Deno.makeTempDir({ prefix: "vexfs-progress-" });
  try {
    const img = `${dir}/a.img`;
    const n = 3000;
    const lines: string[] = [];
    for (let i = 0; i < n; i++) {
      lines.push(JSON.stringify({ path: `f${i}.txt`, text: `doc ${i}`, vector: [i % 7, 1, (i % 13) / 13] }));
    }
    await Deno.writeTextFile(`${dir}/in.jsonl`, lines.join("\n") + "\n");
    assert.equal((await vexfs(["mkfs", "-q", img, "64M"])).code, 0);
    const env = { VEXFS_PROGRESS_INTERVAL: "0.01" }; // stderr is a pipe: plain lines
    const r = await vexfs(["import", img, "/docs", "--jsonl", `${dir}/in.jsonl`], env);
    assert.equal(r.code, 0, r.stderr);
    const err = r.stderr.trim().split("\n");
    const periodic = err.filter((l) => / records \(\d+%\), /.test(l));
    assert.ok(periodic.length >= 2, `periodic lines in:\n${r.stderr}`);
    for (const l of periodic) {
      assert.match(
        l,
        /^import: [\d,]+\/3,000 records \(\d+%\), [\d,.]+ records\/s(, ETA [\d.]+ (?:ns|µs|ms|s|min|h|d)(?: \d+ (?:s|min|h))?)?$/,
      );
    }
    for (const l of err) { // nothing but progress lines: the check pass (no total yet), then the import
      assert.match(l, /^import(: checking: [\d,]+ records(, | in )|: [\d,]+\/3,000 records)/, l);
    }
    assert.match(
      err.at(-1)!,
      /^import: 3,000\/3,000 records in [\d.]+ (?:ns|µs|ms|s|min|h|d)(?: \d+ (?:s|min|h))? \([\d,.]+ records\/s\)$/,
    );
    assert.match(r.stdout, /Imported 3,000 files .* in [\d.]+ (?:ns|µs|ms|s|min|h|d)(?: \d+ (?:s|min|h))?/);

    const q = await vexfs(["import", "-q", img, "/docs", "--jsonl", `${dir}/in.jsonl`], env);
    assert.equal(q.code, 0, q.stderr);
    assert.equal(q.stderr, "");
    assert.equal(q.stdout, "");

    // export of a whole collection knows its total (the collection's vector count)
    const ex = await vexfs(["export", img, "/docs", "-o", `${dir}/out.jsonl`], env);
    assert.equal(ex.code, 0, ex.stderr);
    assert.match(ex.stderr, /^export: [\d,]+\/3,000 files \(\d+%\), [\d,.]+ files\/s/m);
    assert.match(
      ex.stderr.trim().split("\n").at(-1)!,
      /^exported 3,000 files to .* in [\d.]+ (?:ns|µs|ms|s|min|h|d)(?: \d+ (?:s|min|h))?$/,
    );
    assert.equal((await vexfs(["export", "-q", img, "/docs", "-o", `${dir}/out.jsonl`], env)).stderr, "");

    // an offline index build reports the vectors inserted (HnswGraph.build in chunks)
    const ib = await vexfs(["index", "build", img, "/docs"], env);
    assert.equal(ib.code, 0, ib.stderr);
    assert.match(
      ib.stderr,
      /^index build: 2,048\/3,000 vectors \(68%\), [\d,.]+ vectors\/s, ETA [\d.]+ (?:ns|µs|ms|s|min|h|d)(?: \d+ (?:s|min|h))?$/m,
    );
    assert.match(
      ib.stderr.trim().split("\n").at(-1)!,
      /^index build: 3,000\/3,000 vectors in [\d.]+ (?:ns|µs|ms|s|min|h|d)(?: \d+ (?:s|min|h))? /,
    );
    assert.equal((await vexfs(["index", "build", "-q", img, "/docs"], env)).stderr, "");

    const f = await vexfs(["fsck", "-f", img], env);
    assert.equal(f.code, 0, f.stderr);
    assert.match(f.stderr, /^fsck: [a-z ]+: [\d,]+(\/[\d,]+ \(\d+%\))?, /m);
    assert.match(f.stderr.trim().split("\n").at(-1)!, /^fsck: done in /);
    const fq = await vexfs(["fsck", "-f", "-q", img], env);
    assert.equal(fq.code, 0);
    assert.equal(fq.stderr, "");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

const haveScript = (() => {
  try {
    return new Deno.Command("script", { args: ["--version"], stdout: "null", stderr: "null" }).outputSync().success;
  } catch {
    return false;
  }
})();

Deno.test({
  name:
    "on a terminal (script(1) gives a pty) import draws a bar with rate and ETA; export of a subtree counts without",
  ignore: !haveScript,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "vexfs-progress-tty-" });
    try {
      const img = `${dir}/a.img`;
      const recs = Array.from({ length: 8000 }, (_, i) => JSON.stringify({ path: `sub/f${i}`, vector: [i, 1] }));
      await Deno.writeTextFile(`${dir}/in.jsonl`, recs.join("\n") + "\n");
      assert.equal((await vexfs(["mkfs", "-q", "-N", "10000", img, "64M"])).code, 0);
      const q = (s: string) => `'${s.replaceAll("'", `'\\''`)}'`;
      /** The frames `args` draws on a 100-column pty whose lines start with `label`. */
      const onPty = async (args: string[], label: string) => {
        const cmd = vexfsArgv(args).map(q).join(" ");
        const r = await new Deno.Command("script", {
          args: ["-qfec", `stty cols 100; ${cmd} > /dev/null`, `${dir}/typescript`],
          env: { NO_COLOR: "1", TERM: "xterm" },
          stdin: "null",
          stdout: "null",
          stderr: "null",
        }).output();
        assert.equal(r.code, 0);
        // each frame starts at column 1 (ESC [1G); escapes removed after splitting
        const raw = await Deno.readTextFile(`${dir}/typescript`);
        // deno-lint-ignore no-control-regex
        return raw.split(/\x1b\[1G|[\r\n]+/).map((l) => l.replace(/\x1b(\[[0-9;?]*[a-zA-Z]|[78])/g, ""))
          .filter((l) => l.startsWith(label));
      };
      const frames = await onPty(["import", img, "/d", "--jsonl", `${dir}/in.jsonl`], "import ");
      const screen = frames.join("\n");
      assert.ok(
        frames.some((l) =>
          /\d[\d,]*\/8,000 \(\d+%\) \| [\d,.]+ records\/s \| ETA [\d.]+ (?:ns|µs|ms|s|min|h|d)(?: \d+ (?:s|min|h))?$/
            .test(l)
        ),
        screen,
      );
      assert.match(
        frames.at(-1)!,
        /█ 8,000\/8,000 \(100%\) \| [\d,.]+ records\/s \| in [\d.]+ (?:ns|µs|ms|s|min|h|d)(?: \d+ (?:s|min|h))?$/,
      );
      // /d/sub is a subtree of the collection at /d: the total is not known, so no bar cells (not a full bar) and no ETA
      const ex = await onPty(["export", img, "/d/sub"], "export ");
      assert.ok(ex.length >= 2, ex.join("\n"));
      for (const l of ex) assert.doesNotMatch(l, /[█░]|ETA/, l);
      assert.match(
        ex.at(-1)!,
        /^export +8,000 \| [\d,.]+ files\/s \| in [\d.]+ (?:ns|µs|ms|s|min|h|d)(?: \d+ (?:s|min|h))?$/,
      );
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "on a terminal, Ctrl-C (SIGINT) during a progress bar stops the command at once (exit 130)",
  ignore: !haveScript,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "vexfs-progress-sigint-" });
    try {
      const img = `${dir}/a.img`;
      const n = 40_000;
      const recs = Array.from({ length: n }, (_, i) => JSON.stringify({ path: `f${i}`, vector: [i, 1] }));
      await Deno.writeTextFile(`${dir}/in.jsonl`, recs.join("\n") + "\n");
      assert.equal((await vexfs(["mkfs", "-q", "-N", "50000", img, "256M"])).code, 0);
      const q = (s: string) => `'${s.replaceAll("'", `'\\''`)}'`;
      const argv = vexfsArgv(["import", img, "/d", "--jsonl", `${dir}/in.jsonl`]);
      // exec: the vexfs process is script's child, with SIGINT's default disposition (as from a shell)
      const child = new Deno.Command("script", {
        args: ["-qfec", `stty cols 100; exec ${argv.map(q).join(" ")}`, `${dir}/typescript`],
        env: { NO_COLOR: "1", TERM: "xterm" },
        stdin: "null",
        stdout: "null",
        stderr: "null",
      }).spawn();
      let drawn = false;
      for (let i = 0; i < 600 && !drawn; i++) { // until the bar shows an ETA: the import is under way
        await new Promise((r) => setTimeout(r, 50));
        drawn = /ETA \d/.test(await Deno.readTextFile(`${dir}/typescript`).catch(() => ""));
      }
      assert.ok(drawn, "the bar was drawn");
      const pgrep = await new Deno.Command("pgrep", { args: ["-f", "--", `import ${img}`], stdout: "piped" }).output();
      const pids = new TextDecoder().decode(pgrep.stdout).trim().split("\n").map(Number)
        .filter((p) => p && Deno.readTextFileSync(`/proc/${p}/cmdline`).startsWith(argv[0]));
      assert.equal(pids.length, 1, `the vexfs process: ${pids}`);
      const t0 = performance.now();
      Deno.kill(pids[0], "SIGINT");
      const st = await child.status;
      const log = await Deno.readTextFile(`${dir}/typescript`);
      assert.match(log, /COMMAND_EXIT_CODE="130"/, "killed by SIGINT, not finished");
      assert.doesNotMatch(log, /Imported/);
      assert.ok(performance.now() - t0 < 5000, "at once");
      assert.equal(st.code, 130);
      // no terminal state to restore: the cursor was never hidden, autowrap never turned off
      assert.ok(!log.includes("\x1b[?25l") && !log.includes("\x1b[?7l"), "no cursor hiding, no autowrap off");
      // and the interrupted image is consistent (the journal replays what was committed)
      const f = await vexfs(["fsck", "-n", "-f", img]);
      assert.equal(f.code, 0, f.stdout + f.stderr);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("barCells: full and empty cells for the fraction done, nothing for an unknown total", () => {
  assert.equal(barCells(0.5, 10), "█████░░░░░");
  assert.equal(barCells(0, 4), "░░░░");
  assert.equal(barCells(1.7, 4), "████");
  assert.equal(barCells(undefined, 10), "");
  assert.equal(barCells(NaN, 10), "");
});

Deno.test("vexfs resize with stderr piped prints the check's passes and the inode table copy, none with -q", async () => {
  const dir = await Deno.makeTempDir({ prefix: "vexfs-progress-resize-" });
  try {
    const env = { VEXFS_PROGRESS_INTERVAL: "0.001" };
    for (const quiet of [false, true]) {
      const img = `${dir}/r${quiet ? "q" : ""}.img`;
      assert.equal((await vexfs(["mkfs", "-q", img, "16M"])).code, 0);
      // 100,000 inodes do not fit where the table is: it moves to the new space and is copied
      const r = await vexfs(["resize", ...(quiet ? ["-q"] : []), "-N", "100000", img, "1G"], env);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /inode table: 6250 blocks moved/);
      if (quiet) {
        assert.equal(r.stderr, "");
        continue;
      }
      assert.match(r.stderr, /^resize: check: inodes: [\d,]+\/1,024 \(\d+%\), /m);
      assert.match(r.stderr, /^resize: inode table: [\d,]+\/6,250 \(\d+%\), /m);
      assert.match(
        r.stderr.trim().split("\n").at(-1)!,
        /^resize: done in [\d.]+ (?:ns|µs|ms|s|min|h|d)(?: \d+ (?:s|min|h))?$/,
      );
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
