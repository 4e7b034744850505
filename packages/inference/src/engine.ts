/**
 * The analysis of one image (SPEC M3–M6) behind one interface, so that an external inference
 * server (Triton / KServe v2, SPEC M7) can later stand in for the in-process ONNX Runtime
 * engine without the callers changing.
 */
import type { DecodedImage, Preparation } from '@scanflow/imaging';
import * as ort from 'onnxruntime-node';
import { gradcam, regionOnGrid } from './gradcam.ts';
import type { Heatmap } from './gradcam.ts';
import { occlusionMap } from './occlusion.ts';
import { postprocess, sigmoid } from './postprocess.ts';
import type { LabelResult, Priority } from './postprocess.ts';
import { preprocess } from './preprocess.ts';
import type { Preprocessed } from './preprocess.ts';
import type { LoadedModel } from './registry.ts';
import type { WorkerAnalysisOptions } from './in-worker.ts';

// By URL rather than imported: in-worker.ts imports this module.
const IN_WORKER_MODULE = new URL('./in-worker.ts', import.meta.url).href;

export const DISCLAIMER = 'AI decision support only — not a diagnosis. A clinician must review this image.';

export interface AnalysisHeatmap extends Heatmap {
  method: 'gradcam' | 'occlusion';
}

export interface Analysis {
  model: { name: string; version: string };
  labels: LabelResult[];
  /** Null reads "No finding" (no label reached its threshold); see postprocess.ts for the rule. */
  topFinding: LabelResult | null;
  mostProbable: LabelResult;
  confidence: number;
  uncertain: boolean;
  priorityScore: number;
  priority: Priority;
  disclaimer: typeof DISCLAIMER;
  /** The manifest's thresholds this analysis used (the per-label ones are on `labels`). */
  thresholds: { uncertain: number; high: number };
  /** L2-normalised, so cosine similarity is a dot product; empty when the model has no embedding output. */
  embedding: number[];
  /**
   * For the top finding (on a "No finding" read, the most probable label), on the model's grid (feature maps for Grad-CAM, input pixels for
   * occlusion), values 0..1, `imageRegion` locating the image on it: `heatmapToImage` resamples
   * it to the image's size. Null when explanation is off.
   */
  heatmap: AnalysisHeatmap | null;
  timingsMs: { preprocess: number; inference: number; explain: number };
}

export interface ModelOutputs {
  pre: Preprocessed;
  logits: Float32Array;
  features?: { data: Float32Array; dims: number[] };
  embedding?: Float32Array;
  timingsMs: { preprocess: number; inference: number };
}

export interface InferenceEngine {
  readonly model: { name: string; version: string };
  analyse(image: DecodedImage): Promise<Analysis>;
  /**
   * Engines that can run the whole analysis where the image is decoded (a decode worker thread)
   * say how: a module's function and its options, called there as fn(image, options) and
   * returning a WorkerAnalysis (in-worker.ts).
   */
  workerAnalysis?(): Preparation;
  /** Analysis of an input already preprocessed (for example, with other preprocessing settings). */
  analysePrepared?(pre: Preprocessed, preprocessMs: number): Promise<Analysis>;
}

export interface OnnxEngineOptions {
  /**
   * 'auto' (default): Grad-CAM when the manifest declares it, else occlusion. 'occlusion' forces the
   * model-agnostic map; 'none' skips the heatmap.
   */
  explain?: 'auto' | 'gradcam' | 'occlusion' | 'none';
  occlusion?: { patch?: number; stride?: number; batch?: number };
}

/** In-process ONNX Runtime: the registry's cached session, the manifest's pre- and post-processing. */
export class OnnxEngine implements InferenceEngine {
  readonly model: { name: string; version: string };

  constructor(
    private readonly loaded: LoadedModel,
    private readonly options: OnnxEngineOptions = {},
  ) {
    this.model = { name: loaded.manifest.name, version: loaded.manifest.version };
    if (options.explain === 'gradcam' && !loaded.classifier) {
      throw new Error(`Model '${loaded.id}' has no gradcam section and classifier; Grad-CAM is not available.`);
    }
  }

  /**
   * Preprocess and run the model once: the raw outputs, for callers that need more than the
   * analysis (evaluation computes Grad-CAM for every label, not only the top finding).
   */
  async run(image: DecodedImage): Promise<ModelOutputs> {
    const t0 = performance.now();
    const pre = preprocess(image, this.loaded.manifest);
    return this.runPrepared(pre, performance.now() - t0);
  }

  /** `analyseInWorker` with this engine's model folder and settings (in-worker.ts). */
  workerAnalysis(): Preparation {
    const options: WorkerAnalysisOptions = {
      modelDir: this.loaded.dir,
      ...(this.options.explain ? { explain: this.options.explain } : {}),
    };
    return { module: IN_WORKER_MODULE, name: 'analyseInWorker', options };
  }

  private async runPrepared(pre: Preprocessed, preprocessMs: number): Promise<ModelOutputs> {
    const { manifest, session } = this.loaded;
    const t1 = performance.now();
    const wanted = [manifest.outputs.logits, manifest.outputs.features, manifest.outputs.embedding].filter(
      (n): n is string => n !== undefined,
    );
    const out = await session.run({ [manifest.input.name]: new ort.Tensor('float32', pre.data, pre.dims) }, wanted);
    const t2 = performance.now();
    const result: ModelOutputs = {
      pre,
      logits: floats(out, manifest.outputs.logits).data,
      ...(manifest.outputs.features ? { features: floats(out, manifest.outputs.features) } : {}),
      ...(manifest.outputs.embedding ? { embedding: floats(out, manifest.outputs.embedding).data } : {}),
      timingsMs: { preprocess: preprocessMs, inference: t2 - t1 },
    };
    return result;
  }

  async analyse(image: DecodedImage): Promise<Analysis> {
    return this.explain(await this.run(image));
  }

  async analysePrepared(pre: Preprocessed, preprocessMs: number): Promise<Analysis> {
    return this.explain(await this.runPrepared(pre, preprocessMs));
  }

  private async explain(outputs: ModelOutputs): Promise<Analysis> {
    const { manifest, classifier } = this.loaded;
    const { pre, logits, features, embedding, timingsMs } = outputs;
    const t2 = performance.now();
    const triage = postprocess(logits, manifest);

    let heatmap: AnalysisHeatmap | null = null;
    const top = triage.topFinding ?? triage.mostProbable;
    const mode = this.options.explain ?? 'auto';
    const [, , H, W] = pre.dims;
    if (mode !== 'none') {
      const c = manifest.labels.findIndex((l) => l.id === top.id);
      const weights = classifier?.weight[c];
      if (mode !== 'occlusion' && weights && features) {
        const map = gradcam(features.data, features.dims, weights, top.id);
        heatmap = {
          ...map,
          imageRegion: regionOnGrid(pre.region, H, W, map.height, map.width),
          method: 'gradcam',
        };
      } else {
        const map = await occlusionMap(
          pre.data,
          pre.dims,
          (x, n) => this.probabilities(x, n, c),
          top.id,
          {
            ...this.options.occlusion,
            batch: this.loaded.signature.dynamicBatch ? (this.options.occlusion?.batch ?? 16) : 1,
            fill: (0.5 - manifest.preprocessing.normalisation.mean) / manifest.preprocessing.normalisation.std,
          },
          pre.region,
        );
        heatmap = { ...map, method: 'occlusion' };
      }
    }
    const t3 = performance.now();
    return {
      model: this.model,
      ...triage,
      disclaimer: DISCLAIMER,
      thresholds: { uncertain: manifest.uncertainThreshold, high: manifest.priority.highThreshold },
      embedding: embedding ? l2normalise(embedding) : [],
      heatmap,
      timingsMs: { ...timingsMs, explain: t3 - t2 },
    };
  }

  /** Probability of label c for n stacked inputs (occlusion). */
  private async probabilities(x: Float32Array, n: number, c: number): Promise<number[]> {
    const { manifest, session } = this.loaded;
    const [, C, H, W] = manifest.input.shape;
    const out = await session.run({ [manifest.input.name]: new ort.Tensor('float32', x, [n, C, H, W]) }, [
      manifest.outputs.logits,
    ]);
    const logits = floats(out, manifest.outputs.logits).data;
    const L = manifest.labels.length;
    return Array.from({ length: n }, (_, i) => sigmoid(logits[i * L + c] ?? NaN));
  }
}

function floats(out: ort.InferenceSession.OnnxValueMapType, name: string): { data: Float32Array; dims: number[] } {
  const t = out[name];
  if (!t || t.type !== 'float32' || !(t.data instanceof Float32Array)) {
    throw new Error(`The model's output '${name}' is missing or not float32.`);
  }
  return { data: t.data, dims: [...t.dims] };
}

/** Unit length (cosine similarity becomes a dot product); a zero vector stays zero. */
export function l2normalise(v: ArrayLike<number>): number[] {
  let s = 0;
  for (let i = 0; i < v.length; i++) s += (v[i] ?? 0) ** 2;
  const norm = Math.sqrt(s);
  return Array.from(v, (x) => (norm > 0 ? x / norm : 0));
}
