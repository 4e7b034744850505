/**
 * Occlusion sensitivity (Zeiler & Fergus 2014): a model-agnostic explanation for models that do
 * not expose feature maps and a linear head (no manifest `gradcam`). A grey patch slides over the
 * model input; where covering the image lowers the label's probability most is where the model
 * looked. It needs one model run per patch position, so it is slower than Grad-CAM; the patch and
 * stride bound that cost. Pure apart from the `predict` callback.
 */
import { normalise } from './gradcam.ts';
import type { Heatmap } from './gradcam.ts';
import type { InputRegion } from './preprocess.ts';

export interface OcclusionOptions {
  /** Side of the square patch in input pixels; default 1/8 of the shorter side. */
  patch?: number;
  /** Step between patch positions; default half the patch. */
  stride?: number;
  /** The value written into the patch, already normalised (mid-grey: (0.5 - mean) / std). */
  fill: number;
  /** Inputs per predict call (models with a dynamic batch dimension); default 1. */
  batch?: number;
}

/**
 * `predict(x, n)` runs n stacked inputs (each of input.length values) and returns the label's
 * probability for each. The map is at input resolution: each pixel gets the mean probability drop
 * of the patches covering it, clipped at 0, then normalised to 0..1.
 */
export async function occlusionMap(
  input: Float32Array,
  dims: readonly [number, number, number, number],
  predict: (x: Float32Array, n: number) => Promise<ArrayLike<number>>,
  label: string,
  options: OcclusionOptions,
  imageRegion?: InputRegion,
): Promise<Heatmap> {
  const [, C, H, W] = dims;
  const patch = Math.max(1, Math.round(options.patch ?? Math.min(H, W) / 8));
  const stride = Math.max(1, Math.round(options.stride ?? patch / 2));
  const batch = Math.max(1, options.batch ?? 1);
  const base = (await predict(input, 1))[0] ?? 0;
  const positions: Array<[number, number]> = [];
  for (const y of starts(H, patch, stride)) for (const x of starts(W, patch, stride)) positions.push([y, x]);

  const drop = new Float64Array(H * W);
  const count = new Uint32Array(H * W);
  const plane = H * W;
  for (let b = 0; b < positions.length; b += batch) {
    const chunk = positions.slice(b, b + batch);
    const x = new Float32Array(chunk.length * input.length);
    chunk.forEach(([py, px], i) => {
      const off = i * input.length;
      x.set(input, off);
      for (let c = 0; c < C; c++)
        for (let y = py; y < Math.min(H, py + patch); y++) {
          x.fill(options.fill, off + c * plane + y * W + px, off + c * plane + y * W + Math.min(W, px + patch));
        }
    });
    const probs = await predict(x, chunk.length);
    chunk.forEach(([py, px], i) => {
      const d = base - (probs[i] ?? base);
      for (let y = py; y < Math.min(H, py + patch); y++)
        for (let xx = px; xx < Math.min(W, px + patch); xx++) {
          drop[y * W + xx]! += d;
          count[y * W + xx]!++;
        }
    });
  }
  const values = new Float32Array(plane);
  for (let i = 0; i < plane; i++) values[i] = count[i] ? Math.max(0, (drop[i] ?? 0) / (count[i] ?? 1)) : 0;
  return { label, width: W, height: H, values: normalise(values), ...(imageRegion ? { imageRegion } : {}) };
}

/** Patch origins covering 0..n, the last one flush with the edge. */
function starts(n: number, patch: number, stride: number): number[] {
  if (patch >= n) return [0];
  const out: number[] = [];
  for (let s = 0; s + patch < n; s += stride) out.push(s);
  out.push(n - patch);
  return out;
}
