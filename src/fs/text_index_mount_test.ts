/**
 * The text index follows files changed through a real FUSE mount (issue 12
 * §1: "through the mount and offline"): writes, appends, truncates,
 * renames, a move between collections and unlinks made with Deno's file
 * API on the mount, across two mounts; after each unmount the index on the
 * image is fresh and every query answers as a from-scratch index does.
 */
import assert from "node:assert/strict";
import { ROOT_INO } from "../format/constants.ts";
import { mountTest, withMount } from "../mount/_testutil.ts";
import { tmpImage } from "./_testutil.ts";
import { Vexfs } from "./fs.ts";
import { assertTextExact } from "./text_index_testutil.ts";

const QUERIES = ["deploy", "cloud foundry", "deploy the app", "annotation list report", "zebra"];

function check(img: string, what: string): void {
  const fs = Vexfs.open(img, { readOnly: true });
  try {
    for (const name of ["a", "b"]) {
      const root = fs.lookup(ROOT_INO, name);
      assert.equal(fs.collections.text.stats(root).fresh, true, `${what}: the index of ${name} on the image is fresh`);
      assertTextExact(fs, root, QUERIES, `${what} (${name})`);
    }
  } finally {
    fs.close();
  }
}

Deno.test({
  name: "text index: changes made through the mount keep the index exact, across remounts",
  ...mountTest,
  async fn() {
    const img = tmpImage(64 << 20);
    try {
      const fs = Vexfs.open(img);
      for (const name of ["a", "b"]) {
        const root = fs.mkdir(ROOT_INO, name);
        fs.collections.create(root, { dim: 4, metric: "l2", elem: "f32" });
        fs.collections.text.build(root);
      }
      fs.close();
      await withMount({ image: img }, async (mnt) => {
        await Deno.writeTextFile(`${mnt}/a/one.md`, "Deploy the app to Cloud Foundry.");
        await Deno.writeTextFile(`${mnt}/a/two.md`, "An annotation in a list report; deploy later.");
        await Deno.mkdir(`${mnt}/a/sub`);
        await Deno.writeTextFile(`${mnt}/a/sub/three.md`, "zebra zebra cloud");
        await Deno.writeTextFile(`${mnt}/b/four.md`, "foundry of clouds");
        await Deno.writeTextFile(`${mnt}/a/one.md`, " Deploy again.", { append: true });
      });
      check(img, "first mount");
      await withMount({ image: img }, async (mnt) => {
        await Deno.truncate(`${mnt}/a/two.md`, 13);
        await Deno.rename(`${mnt}/a/one.md`, `${mnt}/b/one.md`);
        await Deno.rename(`${mnt}/a/sub`, `${mnt}/b/sub`);
        await Deno.remove(`${mnt}/b/four.md`);
        await Deno.writeTextFile(`${mnt}/a/five.md`, "deploy deploy deploy");
      });
      check(img, "second mount");
    } finally {
      Deno.removeSync(img);
    }
  },
});
