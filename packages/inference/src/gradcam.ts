/**
 * Grad-CAM for models whose head is global average pooling + one linear layer (SPEC M5). There
 * the gradient of logit c with respect to feature k at any position is W[c][k] / (h·w), so
 * Grad-CAM reduces to ReLU(Σ_k W[c][k] · F_k) up to a positive factor, which the 0..1
 * normalisation removes: no gradients, no second model, just the `features` output and the
 * classifier weights shipped next to the model (manifest `gradcam`). Pure.
 */
import type { InputRegion } from './preprocess.ts';

export interface Classifier {
  labels: string[];
  /** weight[c][k]: label c, feature channel k. */
  weight: Float64Array[];
  bias?: number[];
}

/**
 * A heatmap on a grid (feature maps, or any resolution after resampling), values 0..1.
 * `imageRegion` says where the source image lies on this grid, in grid cells: the whole grid after
 * a stretch resize, a centred band after letterboxing.
 */
export interface Heatmap {
  label: string;
  width: number;
  height: number;
  values: Float32Array;
  imageRegion?: InputRegion;
}

/** Reads classifier.json, checking it against the manifest's labels (same ids, same order). */
export function parseClassifier(value: unknown, labelIds: readonly string[], channels?: number): Classifier {
  const problems: string[] = [];
  const o = (typeof value === 'object' && value !== null ? value : {}) as Record<string, unknown>;
  const labels = o.labels;
  if (!Array.isArray(labels) || labels.some((l) => typeof l !== 'string')) {
    problems.push('labels: must be an array of label ids');
  } else if (labels.join('\u0000') !== labelIds.join('\u0000')) {
    problems.push(`labels: [${labels.join(', ')}] differ from the manifest's [${labelIds.join(', ')}]`);
  }
  const weight: Float64Array[] = [];
  if (!Array.isArray(o.weight) || o.weight.length !== labelIds.length) {
    problems.push(`weight: must be ${labelIds.length} rows, one per label`);
  } else {
    o.weight.forEach((row: unknown, c) => {
      if (!Array.isArray(row) || row.some((v) => typeof v !== 'number' || !Number.isFinite(v))) {
        problems.push(`weight[${c}]: must be an array of finite numbers`);
      } else if (channels !== undefined && row.length !== channels) {
        problems.push(`weight[${c}]: has ${row.length} values, the features have ${channels} channels`);
      } else weight.push(Float64Array.from(row as number[]));
    });
  }
  let bias: number[] | undefined;
  if (o.bias !== undefined) {
    if (
      Array.isArray(o.bias) &&
      o.bias.length === labelIds.length &&
      o.bias.every((v): v is number => typeof v === 'number')
    ) {
      bias = o.bias;
    } else problems.push(`bias: must be ${labelIds.length} numbers`);
  }
  if (problems.length > 0) throw new Error(`classifier: ${problems.join('; ')}`);
  return { labels: labels as string[], weight, ...(bias ? { bias } : {}) };
}

/**
 * ReLU(Σ_k w[k] · features[k, :, :]) for features [1, K, h, w] (NCHW, batch 0), normalised to
 * 0..1 by its maximum. A map with no positive evidence stays all zero rather than being stretched.
 */
export function gradcam(
  features: ArrayLike<number>,
  dims: readonly number[],
  weights: ArrayLike<number>,
  label: string,
): Heatmap {
  const [, K = 0, h = 0, w = 0] = dims;
  if (dims.length !== 4 || weights.length !== K || features.length < K * h * w) {
    throw new Error(`Grad-CAM: features [${dims.join(', ')}] do not fit ${weights.length} classifier weights.`);
  }
  const plane = h * w;
  const acc = new Float64Array(plane);
  for (let k = 0; k < K; k++) {
    const wk = weights[k] ?? 0;
    if (wk === 0) continue;
    const base = k * plane;
    for (let p = 0; p < plane; p++) acc[p]! += wk * (features[base + p] ?? 0);
  }
  const values = new Float32Array(plane);
  for (let p = 0; p < plane; p++) values[p] = Math.max(0, acc[p] ?? 0);
  return { label, width: w, height: h, values: normalise(values) };
}

/** Scales to 0..1 by the maximum, in place; an all-zero (or non-positive) map stays zero. */
export function normalise(values: Float32Array): Float32Array {
  let max = 0;
  for (const v of values) if (v > max) max = v;
  if (max > 0) for (let i = 0; i < values.length; i++) values[i] = (values[i] ?? 0) / max;
  else values.fill(0);
  return values;
}

/** The hottest cell (first in row-major order on ties, like torch.argmax). */
export function peakLocation(map: Pick<Heatmap, 'width' | 'values'>): { x: number; y: number; value: number } {
  let best = 0;
  for (let i = 1; i < map.values.length; i++) if ((map.values[i] ?? 0) > (map.values[best] ?? 0)) best = i;
  return { x: best % map.width, y: Math.floor(best / map.width), value: map.values[best] ?? 0 };
}

/**
 * Resamples a heatmap onto the source image (width × height pixels) bilinearly, with pixel
 * centres aligned (torch's align_corners=False) and edges clamped; only the part of the grid
 * covering the image (`imageRegion`) is used, so letterbox bands are dropped.
 */
export function heatmapToImage(map: Heatmap, width: number, height: number): Heatmap {
  const r = map.imageRegion ?? { top: 0, left: 0, height: map.height, width: map.width };
  const out = new Float32Array(width * height);
  const sx = r.width / width;
  const sy = r.height / height;
  const xs = axis(width, sx, r.left, map.width);
  for (let y = 0; y < height; y++) {
    const fy = Math.min(Math.max(r.top + (y + 0.5) * sy - 0.5, 0), map.height - 1);
    const y0 = Math.floor(fy);
    const y1 = Math.min(y0 + 1, map.height - 1);
    const ty = fy - y0;
    const row0 = y0 * map.width;
    const row1 = y1 * map.width;
    for (let x = 0; x < width; x++) {
      const x0 = xs.i0[x] ?? 0;
      const x1 = xs.i1[x] ?? 0;
      const tx = xs.t[x] ?? 0;
      const top = (map.values[row0 + x0] ?? 0) * (1 - tx) + (map.values[row0 + x1] ?? 0) * tx;
      const bottom = (map.values[row1 + x0] ?? 0) * (1 - tx) + (map.values[row1 + x1] ?? 0) * tx;
      out[y * width + x] = top * (1 - ty) + bottom * ty;
    }
  }
  return { label: map.label, width, height, values: out };
}

function axis(n: number, scale: number, offset: number, size: number) {
  const i0 = new Int32Array(n);
  const i1 = new Int32Array(n);
  const t = new Float64Array(n);
  for (let x = 0; x < n; x++) {
    const f = Math.min(Math.max(offset + (x + 0.5) * scale - 0.5, 0), size - 1);
    i0[x] = Math.floor(f);
    i1[x] = Math.min((i0[x] ?? 0) + 1, size - 1);
    t[x] = f - (i0[x] ?? 0);
  }
  return { i0, i1, t };
}

/** Grid region of the image after preprocessing, from input pixels to feature cells. */
export function regionOnGrid(region: InputRegion, inputH: number, inputW: number, h: number, w: number): InputRegion {
  return {
    top: (region.top * h) / inputH,
    left: (region.left * w) / inputW,
    height: (region.height * h) / inputH,
    width: (region.width * w) / inputW,
  };
}
