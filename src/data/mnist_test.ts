import { assert, assertEquals, assertRejectsFsError } from "../test_assert.ts";
import { loadMnist, mnistDigitsDir } from "./mnist.ts";

Deno.test("mnist: loads all 10,000 images with labels", async () => {
  const { dim, images, labels } = await loadMnist();
  assertEquals(dim, 784);
  assertEquals(images.length, 10000);
  assertEquals(labels.length, 10000);
  const counts = Array(10).fill(0);
  for (const l of labels) counts[l]++;
  // Counts follow the sizes of src/digits/<d>.json (data.length / 784).
  assertEquals(counts, [1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944, 978]);
  for (const img of images.slice(0, 500)) {
    assertEquals(img.length, 784);
    assert(img.every((x) => x >= 0 && x <= 1));
    assert(img.some((x) => x > 0.5), "an image has ink");
  }
});

Deno.test("mnist: limit takes an interleaved, deterministic prefix", async () => {
  const a = await loadMnist(25);
  assertEquals(a.images.length, 25);
  assertEquals(a.labels, [
    ...[0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
    ...[0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
    ...[0, 1, 2, 3, 4],
  ]);
  // Image 0 is the first 784 values of 0.json; image 11 the second of 1.json.
  const dir = await mnistDigitsDir();
  const zero = JSON.parse(await Deno.readTextFile(`${dir}/0.json`)).data;
  const one = JSON.parse(await Deno.readTextFile(`${dir}/1.json`)).data;
  assertEquals(a.images[0], Float32Array.from(zero.slice(0, 784)));
  assertEquals(a.images[11], Float32Array.from(one.slice(784, 1568)));
  assertEquals((await loadMnist(0)).images.length, 0);
  await assertRejectsFsError(() => loadMnist(-1), "EINVAL", /bad limit/);
  await assertRejectsFsError(() => loadMnist(1.5), "EINVAL", /bad limit/);
});
