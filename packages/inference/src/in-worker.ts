/**
 * The whole analysis where the image was decoded: in a decode worker thread of @scanflow/imaging
 * (a "preparation" run on the decoded image), preprocess, ONNX Runtime, postprocess, Grad-CAM and
 * the heatmap renditions. Neither the full-resolution pixels nor the model's compute reach the
 * caller's thread, which in the server is also the embedded database's thread. Each worker thread
 * loads the model once: its own ONNX Runtime session over the same files.
 */
import type { DecodedImage } from '@scanflow/imaging';
import { OnnxEngine, type Analysis, type OnnxEngineOptions } from './engine.ts';
import { renderHeatmapRenditions } from './heatmap-renditions.ts';
import { loadModelFolder } from './registry.ts';

export interface WorkerAnalysisOptions {
  /** The model folder the caller's engine loaded. */
  modelDir: string;
  explain?: OnnxEngineOptions['explain'];
  heatmapMaxSide: number;
}

export interface WorkerAnalysis {
  analysis: Analysis;
  /** Grey map and colour overlay PNGs; null without a heatmap. */
  heatmapPng: Uint8Array | null;
  overlayPng: Uint8Array | null;
  encodeMs: number;
}

const engines = new Map<string, Promise<OnnxEngine>>();

function engineFor(options: WorkerAnalysisOptions): Promise<OnnxEngine> {
  const key = `${options.modelDir}\0${options.explain ?? 'auto'}`;
  let engine = engines.get(key);
  if (!engine) {
    engine = loadModelFolder(options.modelDir).then(
      (loaded) => new OnnxEngine(loaded, options.explain ? { explain: options.explain } : {}),
    );
    // A folder that failed to load is tried again next time rather than cached as failed.
    engine.catch(() => engines.delete(key));
    engines.set(key, engine);
  }
  return engine;
}

export async function analyseInWorker(image: DecodedImage, options: WorkerAnalysisOptions): Promise<WorkerAnalysis> {
  const engine = await engineFor(options);
  const analysis = await engine.analyse(image);
  const started = performance.now();
  const renditions = analysis.heatmap
    ? await renderHeatmapRenditions(analysis.heatmap, image, options.heatmapMaxSide)
    : null;
  return {
    analysis,
    // Copies with their own small buffers: sharp's may not be transferable to the caller's thread.
    heatmapPng: renditions ? new Uint8Array(renditions.heatmapPng) : null,
    overlayPng: renditions ? new Uint8Array(renditions.overlayPng) : null,
    encodeMs: performance.now() - started,
  };
}
