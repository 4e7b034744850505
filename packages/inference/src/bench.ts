/**
 * Inference latency benchmark (a benchmark, not a test: timings depend on the machine and its
 * load). Measures single-image `analyse` latency p50/p99 split by stage on synthetic images of
 * the sizes that matter (a 2048² 12-bit radiograph as DICOM decodes it, a 1024² 8-bit PNG), and
 * raw `session.run` at batch 1 and batched. Decoding is @scanflow/imaging's benchmark.
 *
 *   node --import tsx -e "import('@scanflow/inference/bench').then(async (b) => console.log(await b.benchInference()))"
 */
import type { DecodedImage } from '@scanflow/imaging';
import * as ort from 'onnxruntime-node';
import { fileURLToPath } from 'node:url';
import { OnnxEngine } from './engine.ts';
import type { Analysis } from './engine.ts';
import { loadModels } from './registry.ts';

export interface LatencyStats {
  p50: number;
  p99: number;
  mean: number;
}

export interface InferenceBenchResult {
  model: { name: string; version: string };
  iterations: number;
  intraOpNumThreads: number;
  /** Per image kind: whole analyse() and each stage, milliseconds. */
  analyse: Record<
    string,
    { total: LatencyStats; preprocess: LatencyStats; inference: LatencyStats; explain: LatencyStats }
  >;
  /** session.run alone, per call, at batch 1 and at `batch`; perImage divides the batched call. */
  sessionRun: { batch1: LatencyStats; batched: LatencyStats & { batch: number; perImage: number } };
}

export interface InferenceBenchOptions {
  modelsDir?: string;
  active?: string;
  iterations?: number;
  warmup?: number;
  batch?: number;
  intraOpNumThreads?: number;
}

export async function benchInference(options: InferenceBenchOptions = {}): Promise<InferenceBenchResult> {
  const iterations = options.iterations ?? 200;
  const warmup = options.warmup ?? 20;
  const batch = options.batch ?? 8;
  const threads = options.intraOpNumThreads ?? 1;
  const registry = await loadModels(options.modelsDir ?? fileURLToPath(new URL('../../../models/', import.meta.url)), {
    intraOpNumThreads: threads,
    ...(options.active ? { active: options.active } : {}),
  });
  try {
    const model = registry.active;
    const engine = new OnnxEngine(model);
    const images: Record<string, DecodedImage> = {
      'dicom-2048x2048-12bit': syntheticRadiograph(2048, 2048, 12, true),
      'dicom-2048x2048-12bit-windowed': {
        ...syntheticRadiograph(2048, 2048, 12, true),
        voi: [{ windows: [{ center: 2048, width: 4096 }], function: 'LINEAR' }],
      },
      'png-1024x1024-8bit': syntheticRadiograph(1024, 1024, 8, false),
    };
    const analyse: InferenceBenchResult['analyse'] = {};
    for (const [kind, image] of Object.entries(images)) {
      for (let i = 0; i < warmup; i++) await engine.analyse(image);
      const runs: Analysis['timingsMs'][] = [];
      const totals: number[] = [];
      for (let i = 0; i < iterations; i++) {
        const t0 = performance.now();
        const a = await engine.analyse(image);
        totals.push(performance.now() - t0);
        runs.push(a.timingsMs);
      }
      analyse[kind] = {
        total: stats(totals),
        preprocess: stats(runs.map((r) => r.preprocess)),
        inference: stats(runs.map((r) => r.inference)),
        explain: stats(runs.map((r) => r.explain)),
      };
    }

    const [, C, H, W] = model.manifest.input.shape;
    const run = async (n: number): Promise<number[]> => {
      const x = new ort.Tensor('float32', new Float32Array(n * C * H * W).fill(0.1), [n, C, H, W]);
      const times: number[] = [];
      for (let i = 0; i < warmup + iterations; i++) {
        const t0 = performance.now();
        await model.session.run({ [model.manifest.input.name]: x });
        if (i >= warmup) times.push(performance.now() - t0);
      }
      return times;
    };
    const batch1 = stats(await run(1));
    const batchedN = model.signature.dynamicBatch ? batch : 1;
    const batched = stats(await run(batchedN));
    return {
      model: engine.model,
      iterations,
      intraOpNumThreads: threads,
      analyse,
      sessionRun: { batch1, batched: { ...batched, batch: batchedN, perImage: round(batched.p50 / batchedN) } },
    };
  } finally {
    await registry.close();
  }
}

function stats(values: number[]): LatencyStats {
  const s = [...values].sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))] ?? NaN;
  return {
    p50: round(at(0.5)),
    p99: round(at(0.99)),
    mean: round(s.reduce((a, b) => a + b, 0) / Math.max(1, s.length)),
  };
}

function round(v: number): number {
  return Math.round(v * 1000) / 1000;
}

/** A chest-like greyscale image: bright body, darker lungs, noise; as DICOM or PNG decoding yields it. */
function syntheticRadiograph(width: number, height: number, bits: 8 | 12, dicom: boolean): DecodedImage {
  const max = 2 ** bits - 1;
  const pixels = bits === 8 ? new Uint8Array(width * height) : new Uint16Array(width * height);
  let seed = 12345;
  for (let y = 0; y < height; y++) {
    const ny = y / height - 0.5;
    for (let x = 0; x < width; x++) {
      const nx = x / width - 0.5;
      const body = (nx * nx) / 0.18 + (ny * ny) / 0.2 < 1;
      const lung = (Math.abs(nx) - 0.17) ** 2 / 0.012 + (ny + 0.03) ** 2 / 0.06 < 1;
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      const v = (body ? (lung ? 0.35 : 0.7) : 0.08) + ((seed % 1000) / 1000 - 0.5) * 0.05;
      pixels[y * width + x] = Math.round(Math.min(1, Math.max(0, v)) * max);
    }
  }
  return {
    format: dicom ? 'dicom' : 'png',
    mediaType: dicom ? 'application/dicom' : 'image/png',
    width,
    height,
    frames: 1,
    samplesPerPixel: 1,
    pixels,
    photometricInterpretation: 'MONOCHROME2',
    sourcePhotometricInterpretation: 'MONOCHROME2',
    invertForDisplay: false,
    bitsAllocated: bits === 8 ? 8 : 16,
    bitsStored: bits,
    signed: false,
    modality: [{ slope: 1, intercept: 0 }],
    // No window in the DICOM: the percentile path (a histogram pass first) is the slower one.
    voi: [dicom ? { windows: [], function: 'LINEAR' } : { windows: [{ center: 128, width: 256 }], function: 'LINEAR' }],
    lossy: false,
  };
}
