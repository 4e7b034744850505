/**
 * One image's analysis, as the pre-read worker and `scanflow analyze` both run it: decode, then the
 * model through its `InferenceEngine` (preprocess, ONNX Runtime, postprocess, Grad-CAM), each stage
 * timed. The heatmap stays the model's small grid: its pictures are drawn when someone looks
 * (`renderHeatmapRendition` in @scanflow/inference), not here. Two ways, one result:
 *
 * - in a decode worker thread (the server): the pool decodes and the engine's `workerAnalysis`
 *   runs there too, so the pixels and the model's compute stay off the main thread, which PGlite
 *   shares with every request;
 * - in process (the CLI, and engines that cannot run in a worker): decode, then `engine.analyse`.
 */
import type { DecodedImage, Preparation } from '@scanflow/imaging';
import type { Analysis, InferenceEngine, WorkerAnalysis } from '@scanflow/inference';

export interface PipelineTimings {
  /** Decrypting and verifying the stored bytes where they were decoded (0 when the caller did it). */
  open: number;
  decode: number;
  preprocess: number;
  infer: number;
  explain: number;
}

export interface PipelineResult {
  image: { width: number; height: number; format: string };
  analysis: Analysis;
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
    } = await decode.decodePrepared(input, engine.workerAnalysis());
    const { analysis } = prepared;
    return {
      image: { width: image.width, height: image.height, format: image.format },
      analysis,
      timings: {
        open: openMillis,
        // The rest of the round trip: decoding, plus waiting for a free decode thread.
        decode: performance.now() - t0 - prepareMillis - openMillis,
        preprocess: analysis.timingsMs.preprocess,
        infer: analysis.timingsMs.inference,
        explain: analysis.timingsMs.explain,
      },
    };
  }
  const image = await decode(input);
  const t1 = performance.now();
  const analysis = await engine.analyse(image);
  return {
    image: { width: image.width, height: image.height, format: image.format },
    analysis,
    timings: {
      open: 0,
      decode: t1 - t0,
      preprocess: analysis.timingsMs.preprocess,
      infer: analysis.timingsMs.inference,
      explain: analysis.timingsMs.explain,
    },
  };
}
