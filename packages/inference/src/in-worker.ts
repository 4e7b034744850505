/**
 * The whole analysis where the image was decoded: in a decode worker thread of @scanflow/imaging
 * (a "preparation" run on the decoded image), preprocess, ONNX Runtime, postprocess and Grad-CAM.
 * Neither the full-resolution pixels nor the model's compute reach the caller's thread, which in
 * the server is also the embedded database's thread. Each worker thread loads the model once: its
 * own ONNX Runtime session over the same files. The heatmap comes back as its small grid: the
 * pictures are drawn from it when someone looks (heatmap-renditions.ts).
 */
import type { DecodedImage } from '@scanflow/imaging';
import { OnnxEngine, type Analysis, type OnnxEngineOptions } from './engine.ts';
import { loadModelFolder } from './registry.ts';

export interface WorkerAnalysisOptions {
  /** The model folder the caller's engine loaded. */
  modelDir: string;
  explain?: OnnxEngineOptions['explain'];
}

export interface WorkerAnalysis {
  analysis: Analysis;
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
  return { analysis: await (await engineFor(options)).analyse(image) };
}
