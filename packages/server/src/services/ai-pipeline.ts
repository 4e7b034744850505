/**
 * One image's analysis, as the pre-read worker and `scanflow analyze` both run it: decode, the
 * model through its `InferenceEngine` (preprocess, ONNX Runtime, postprocess, Grad-CAM), and the
 * heatmap rendered twice — the grey map (the data) and the colour overlay (for the viewer) — each
 * stage timed. Two ways, one result:
 *
 * - in a decode worker thread (the server): the pool decodes and the engine's `workerAnalysis`
 *   runs there too, so the pixels, the model and the PNG encoding all stay off the main thread,
 *   which PGlite shares with every request;
 * - in process (the CLI, and engines that cannot run in a worker): decode, then `engine.analyse`.
 */
import type { DecodedImage, Preparation } from '@scanflow/imaging';
import { renderHeatmapRenditions, type Analysis, type InferenceEngine, type WorkerAnalysis } from '@scanflow/inference';

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

/** Decodes and runs a preparation on the image where it decodes (a DecodePool); `Input`: bytes, or where to read them. */
export interface PreparingDecoder<Input> {
  decodePrepared(
    input: Input,
    preparation: Preparation,
  ): Promise<{ image: DecodedImage; prepared: WorkerAnalysis; prepareMillis: number; openMillis?: number }>;
}

export async function runAnalysisPipeline<Input>(
  input: Input,
  decode: ((input: Input) => Promise<DecodedImage>) | PreparingDecoder<Input>,
  engine: InferenceEngine,
): Promise<PipelineResult> {
  const t0 = performance.now();
  if (typeof decode !== 'function') {
    if (!engine.workerAnalysis) throw new Error('This engine cannot run its analysis in a decode worker.');
    const {
      image,
      prepared,
      prepareMillis,
      openMillis = 0,
    } = await decode.decodePrepared(input, engine.workerAnalysis({ heatmapMaxSide: HEATMAP_MAX_SIDE }));
    const { analysis, heatmapPng, overlayPng, encodeMs } = prepared;
    return {
      image: { width: image.width, height: image.height, format: image.format },
      analysis,
      heatmapPng,
      overlayPng,
      timings: {
        open: openMillis,
        // The rest of the round trip: decoding, plus waiting for a free decode thread.
        decode: performance.now() - t0 - prepareMillis - openMillis,
        preprocess: analysis.timingsMs.preprocess,
        infer: analysis.timingsMs.inference,
        explain: analysis.timingsMs.explain,
        encode: encodeMs,
      },
    };
  }
  const image = await decode(input);
  const t1 = performance.now();
  const analysis = await engine.analyse(image);
  const t2 = performance.now();
  const renditions = analysis.heatmap ? await renderHeatmapRenditions(analysis.heatmap, image, HEATMAP_MAX_SIDE) : null;
  return {
    image: { width: image.width, height: image.height, format: image.format },
    analysis,
    heatmapPng: renditions?.heatmapPng ?? null,
    overlayPng: renditions?.overlayPng ?? null,
    timings: {
      open: 0,
      decode: t1 - t0,
      preprocess: analysis.timingsMs.preprocess,
      infer: analysis.timingsMs.inference,
      explain: analysis.timingsMs.explain,
      encode: performance.now() - t2,
    },
  };
}
