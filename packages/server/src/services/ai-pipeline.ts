/**
 * One image's analysis, as the pre-read worker and `scanflow analyze` both run it: decode (the
 * caller says how: in process for the CLI; in the server, in an isolated worker thread that also
 * runs the model's preprocessing, so the full-resolution pixels never reach the main thread), the model
 * through its `InferenceEngine` (preprocess, ONNX Runtime, postprocess, Grad-CAM), and the heatmap
 * rendered twice — the grey map (the data) and the colour overlay (for the viewer) — each timed.
 */
import type { DecodedImage, Preparation } from '@scanflow/imaging';
import {
  heatmapToImage,
  renderHeatmapGreyPng,
  renderHeatmapPng,
  type Analysis,
  type InferenceEngine,
  type Preprocessed,
} from '@scanflow/inference';

// Heatmaps are stored at most this large on their longest side. The Grad-CAM grid is 16×16, so
// 128 px is 8 px per cell, bilinear already; the viewer scales the overlay to the image with
// smoothing. (At 1024 px rendering cost more than the model itself; at 256 px, still twice it.)
export const HEATMAP_MAX_SIDE = 128;

export interface PipelineTimings {
  /** Decrypting and verifying the stored bytes where they were decoded (0 when the caller did it). */
  open: number;
  decode: number;
  preprocess: number;
  infer: number;
  explain: number;
  encode: number;
}

export interface PipelineResult {
  image: { width: number; height: number; format: string };
  analysis: Analysis;
  /** Grey 8-bit PNG of the map and the RGBA colour overlay, both at the image's aspect; null without a heatmap. */
  heatmapPng: Uint8Array | null;
  overlayPng: Uint8Array | null;
  timings: PipelineTimings;
}

/** Decodes and runs a preparation (the engine's preprocessing) where it decodes: a DecodePool. */
export interface PreparingDecoder {
  decodePrepared(
    bytes: Uint8Array,
    preparation: Preparation,
  ): Promise<{ image: DecodedImage; prepared: Preprocessed; prepareMillis: number; openMillis?: number }>;
}

export async function runAnalysisPipeline(
  bytes: Uint8Array,
  decode: ((bytes: Uint8Array) => Promise<DecodedImage>) | PreparingDecoder,
  engine: InferenceEngine,
): Promise<PipelineResult> {
  const t0 = performance.now();
  let image: DecodedImage;
  let analysis: Analysis;
  let t1: number;
  let open = 0;
  const preparation = engine.preparation?.();
  if (typeof decode !== 'function' && preparation && engine.analysePrepared) {
    const prepared = await decode.decodePrepared(bytes, preparation);
    image = prepared.image;
    open = prepared.openMillis ?? 0;
    t1 = performance.now() - prepared.prepareMillis;
    analysis = await engine.analysePrepared(prepared.prepared, prepared.prepareMillis);
  } else {
    if (typeof decode !== 'function') throw new Error('This engine cannot take a prepared input.');
    image = await decode(bytes);
    t1 = performance.now();
    analysis = await engine.analyse(image);
  }
  const t2 = performance.now();
  let heatmapPng: Uint8Array | null = null;
  let overlayPng: Uint8Array | null = null;
  if (analysis.heatmap) {
    const scale = Math.min(1, HEATMAP_MAX_SIDE / Math.max(image.width, image.height));
    const size = {
      width: Math.max(1, Math.round(image.width * scale)),
      height: Math.max(1, Math.round(image.height * scale)),
    };
    // Resampled once for both renderings; sharp encodes on libuv's thread pool: the two encodes overlap.
    const sized = heatmapToImage(analysis.heatmap, size.width, size.height);
    const [grey, overlay] = await Promise.all([renderHeatmapGreyPng(sized), renderHeatmapPng(sized)]);
    heatmapPng = grey.png;
    overlayPng = overlay.png;
  }
  const t3 = performance.now();
  return {
    image: { width: image.width, height: image.height, format: image.format },
    analysis,
    heatmapPng,
    overlayPng,
    timings: {
      open,
      decode: t1 - t0 - open,
      preprocess: analysis.timingsMs.preprocess,
      infer: analysis.timingsMs.inference,
      explain: analysis.timingsMs.explain,
      encode: t3 - t2,
    },
  };
}
