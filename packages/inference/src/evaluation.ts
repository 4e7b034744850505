/**
 * Runs a model on a labelled evaluation set through Scanflow's own pipeline (decode with
 * @scanflow/imaging, preprocess, ONNX Runtime, Grad-CAM) and measures what its model card claims:
 * per-label AUROC and the pointing game. Used by the shipped-model test and usable from a script
 * to evaluate any model folder.
 *
 * Evaluation set layout (written by training/evaluate.py): `labels.json` with `labels` (ids, also
 * the bit order of the masks), `pointingTolerancePx`, and `items` [{ image, mask, labels: {id: 0|1} }];
 * images are PNGs at model resolution; masks are 8-bit PNGs, bit k set where label k is present.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { decodeImage } from '@scanflow/imaging';
import { OnnxEngine } from './engine.ts';
import { gradcam, peakLocation } from './gradcam.ts';
import { sigmoid } from './postprocess.ts';
import type { LoadedModel } from './registry.ts';

export interface EvalSet {
  labels: string[];
  pointingTolerancePx: number;
  items: Array<{ image: string; mask: string; labels: Record<string, number> }>;
}

export interface LabelScore {
  auroc: number;
  pointingGame: number;
  positives: number;
  /** Positives with a non-empty mask, over which the pointing game is counted. */
  pointingN: number;
}

export interface EvalReport {
  n: number;
  perLabel: Record<string, LabelScore>;
  /** Logits per image, manifest label order (for parity checks against a reference). */
  logits: number[][];
  msPerImage: number;
}

const LIMITS = { maxPixels: 64 * 1024 * 1024, maxDimension: 16384 };

export async function evaluateModel(model: LoadedModel, dir: string): Promise<EvalReport> {
  const set = JSON.parse(await readFile(join(dir, 'labels.json'), 'utf8')) as EvalSet;
  const ids = model.manifest.labels.map((l) => l.id);
  const missing = ids.filter((id) => !set.labels.includes(id));
  if (missing.length > 0) throw new Error(`The evaluation set has no labels for ${missing.join(', ')}.`);
  const engine = new OnnxEngine(model, { explain: 'none' });
  const [, , H, W] = model.manifest.input.shape;
  const tol = set.pointingTolerancePx;

  const scores: number[][] = ids.map(() => []);
  const truth: boolean[][] = ids.map(() => []);
  const hits = ids.map(() => ({ hits: 0, n: 0 }));
  const logits: number[][] = [];
  let ms = 0;
  for (const item of set.items) {
    const image = await decodeImage(new Uint8Array(await readFile(join(dir, item.image))), LIMITS);
    const t0 = performance.now();
    const out = await engine.run(image);
    ms += performance.now() - t0;
    logits.push(Array.from(out.logits));
    const mask = await decodeImage(new Uint8Array(await readFile(join(dir, item.mask))), LIMITS);
    if (mask.width !== W || mask.height !== H) throw new Error(`${item.mask}: masks must be ${W}×${H}`);
    ids.forEach((id, c) => {
      const positive = item.labels[id] === 1;
      scores[c]!.push(sigmoid(out.logits[c] ?? NaN));
      truth[c]!.push(positive);
      const bit = set.labels.indexOf(id);
      const weights = model.classifier?.weight[c];
      if (!positive || !weights || !out.features) return;
      const inMask = (r: number, q: number) =>
        r >= 0 && q >= 0 && r < H && q < W && ((mask.pixels[r * W + q] ?? 0) >> bit) & 1;
      let any = false;
      for (let p = 0; p < H * W && !any; p++) any = (((mask.pixels[p] ?? 0) >> bit) & 1) === 1;
      if (!any) return; // no mask to point at: skipped, as in training/evaluate.py
      const map = gradcam(out.features.data, out.features.dims, weights, id);
      const peak = peakLocation(map);
      // The peak cell's centre in input pixels, as training/evaluate.py maps it.
      const r = Math.floor(((peak.y + 0.5) * H) / map.height);
      const q = Math.floor(((peak.x + 0.5) * W) / map.width);
      let hit = false;
      for (let dy = -tol; dy <= tol && !hit; dy++)
        for (let dx = -tol; dx <= tol && !hit; dx++)
          if (dx * dx + dy * dy <= tol * tol && inMask(r + dy, q + dx)) hit = true;
      hits[c]!.n++;
      if (hit) hits[c]!.hits++;
    });
  }
  const perLabel: Record<string, LabelScore> = {};
  ids.forEach((id, c) => {
    perLabel[id] = {
      auroc: auroc(truth[c]!, scores[c]!),
      pointingGame: hits[c]!.n > 0 ? hits[c]!.hits / hits[c]!.n : NaN,
      positives: truth[c]!.filter(Boolean).length,
      pointingN: hits[c]!.n,
    };
  });
  return { n: set.items.length, perLabel, logits, msPerImage: ms / Math.max(1, set.items.length) };
}

/** Mann–Whitney AUROC with tied scores given mid-ranks (as scipy's rankdata does). */
export function auroc(positive: readonly boolean[], score: readonly number[]): number {
  const order = score.map((_, i) => i).sort((a, b) => (score[a] ?? 0) - (score[b] ?? 0));
  const rank = new Float64Array(score.length);
  for (let i = 0; i < order.length;) {
    let j = i;
    while (j + 1 < order.length && score[order[j + 1]!] === score[order[i]!]) j++;
    for (let k = i; k <= j; k++) rank[order[k]!] = (i + j) / 2 + 1;
    i = j + 1;
  }
  let nPos = 0;
  let sum = 0;
  positive.forEach((p, i) => {
    if (p) {
      nPos++;
      sum += rank[i] ?? 0;
    }
  });
  const nNeg = positive.length - nPos;
  if (nPos === 0 || nNeg === 0) return NaN;
  return (sum - (nPos * (nPos + 1)) / 2) / (nPos * nNeg);
}
