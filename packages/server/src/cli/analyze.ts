/**
 * `scanflow analyze FILE… [--json] [--model NAME] [--heatmaps DIR] [--decode-timeout-ms N]`: the AI pre-read of image files
 * from the shell, without a server or a database — the same pipeline the worker runs
 * (services/ai-pipeline.ts: decode with @scanflow/imaging, the active or named model, postprocess,
 * Grad-CAM), so a researcher can triage a folder or evaluate a model.
 *
 * One JSON result per file on stdout (pretty, or one line each with --json for scripts), in the
 * order given. A file that cannot be read or decoded gets an error result and a message on stderr;
 * the others go on, and the exit status is 1 if any failed (2 for a usage error). Files are decoded
 * in a worker thread with a deadline, as in the server: a WebAssembly codec cannot be interrupted
 * in process, and one pathological file must not stall a whole folder's run.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, extname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { createDecodePool, ImagingError } from '@scanflow/imaging';
import { ModelLoadError, OnnxEngine, renderHeatmapRenditions } from '@scanflow/inference';
import { loadConfig } from '../config.ts';
import { runAnalysisPipeline, type PipelineResult } from '../services/ai-pipeline.ts';
import { modelRegistry } from '../services/model-catalog.ts';

const USAGE = `Usage: scanflow analyze FILE… [--json] [--model NAME] [--heatmaps DIR] [--decode-timeout-ms N]
  FILE        DICOM, PNG, JPEG or TIFF images (identified by content)
  --json      one JSON result per line (JSON Lines), no progress bar
  --model     the model folder or name to use (default: MODEL, else the only or first in MODELS_DIR)
  --heatmaps  write each file's Grad-CAM map (NAME.heatmap.png, grey) and overlay (NAME.overlay.png) here
  --decode-timeout-ms  stop decoding a file after this long and report it (default 30000, as the server)
Decision support only: the results are not a diagnosis.`;

const DEFAULT_DECODE_TIMEOUT_MS = 30_000;

export async function run(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        json: { type: 'boolean' },
        model: { type: 'string' },
        heatmaps: { type: 'string' },
        'decode-timeout-ms': { type: 'string', default: String(DEFAULT_DECODE_TIMEOUT_MS) },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (error) {
    process.stderr.write(`scanflow analyze: ${(error as Error).message}\n${USAGE}\n`);
    return 2;
  }
  const { values, positionals: files } = parsed;
  if (values.help || files.length === 0) {
    process.stderr.write(`${USAGE}\n`);
    return values.help ? 0 : 2;
  }
  const decodeTimeoutMs = Number(values['decode-timeout-ms']);
  if (!Number.isInteger(decodeTimeoutMs) || decodeTimeoutMs < 1) {
    process.stderr.write(`scanflow analyze: --decode-timeout-ms must be a whole number of milliseconds, at least 1\n`);
    return 2;
  }

  const config = loadConfig();
  let registry;
  try {
    registry = await modelRegistry({ modelsDir: config.modelsDir, model: values.model ?? config.model });
  } catch (error) {
    if (!(error instanceof ModelLoadError)) throw error;
    process.stderr.write(`scanflow analyze: ${error.message}\n`);
    return 2;
  }
  const engine = new OnnxEngine(registry.active);
  const limits = { maxPixels: config.maxImagePixels, maxDimension: config.maxImageDimension };
  if (values.heatmaps) mkdirSync(values.heatmaps, { recursive: true });
  const decoder = createDecodePool({ size: 1, timeoutMs: decodeTimeoutMs });
  const progress = !values.json && files.length > 1 && process.stderr.isTTY ? new ProgressBar(files.length) : null;

  let failed = 0;
  try {
    for (const [index, file] of files.entries()) {
      progress?.show(index, file);
      let result: PipelineResult;
      try {
        const bytes = new Uint8Array(await readFile(file));
        result = await runAnalysisPipeline(bytes, (b) => decoder.decode(b, limits), engine);
      } catch (error) {
        const message = readableError(error);
        if (message === null) throw error;
        failed++;
        progress?.clear();
        process.stderr.write(`scanflow analyze: ${file}: ${message}\n`);
        print({ file, ok: false, error: message }, values.json === true);
        continue;
      }
      const heatmapFiles = values.heatmaps ? await writeHeatmaps(values.heatmaps, file, index, result) : null;
      progress?.clear();
      print(describe(file, result, heatmapFiles), values.json === true);
    }
  } finally {
    progress?.clear();
    await Promise.all([registry.close(), decoder.close()]);
  }
  if (failed > 0) process.stderr.write(`scanflow analyze: ${failed} of ${files.length} files could not be analysed\n`);
  return failed > 0 ? 1 : 0;
}

/** The message for a file that cannot be analysed, or null for an error that is ours (a bug). */
function readableError(error: unknown): string | null {
  if (error instanceof ImagingError) return error.message;
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return 'no such file';
  if (code === 'EISDIR') return 'is a directory, not an image file';
  if (code === 'EACCES') return 'permission denied';
  if (error instanceof Error && error.name === 'PreprocessError') return error.message;
  return null;
}

function describe(file: string, r: PipelineResult, heatmapFiles: { heatmap: string; overlay: string } | null) {
  const a = r.analysis;
  return {
    file,
    ok: true,
    model: a.model,
    image: r.image,
    labels: a.labels.map(({ id, display, probability, threshold, positive }) => ({
      id,
      display,
      probability,
      threshold,
      positive,
    })),
    topFinding: a.topFinding ? { id: a.topFinding.id, display: a.topFinding.display } : null,
    confidence: a.confidence,
    uncertain: a.uncertain,
    priority: a.priority,
    priorityScore: a.priorityScore,
    heatmap: a.heatmap ? { label: a.heatmap.label, method: a.heatmap.method, ...heatmapFiles } : null,
    embeddingDimensions: a.embedding.length,
    timingsMs: r.timings,
    disclaimer: a.disclaimer,
  };
}

async function writeHeatmaps(dir: string, file: string, index: number, r: PipelineResult) {
  if (!r.analysis.heatmap) return null;
  const { heatmapPng, overlayPng } = await renderHeatmapRenditions(r.analysis.heatmap, r.image);
  // The position keeps two inputs with one name (a/1.png, b/1.png) apart.
  const stem = `${String(index + 1).padStart(4, '0')}-${basename(file, extname(file))}`;
  const heatmap = join(dir, `${stem}.heatmap.png`);
  const overlay = join(dir, `${stem}.overlay.png`);
  writeFileSync(heatmap, heatmapPng);
  writeFileSync(overlay, overlayPng);
  return { heatmap, overlay };
}

function print(value: unknown, jsonLines: boolean): void {
  process.stdout.write(`${JSON.stringify(value, null, jsonLines ? undefined : 2)}\n`);
}

/** One line on the terminal's stderr, redrawn in place: [#####-----] 12/40 name. */
class ProgressBar {
  private static readonly WIDTH = 30;
  constructor(private readonly total: number) {}

  show(done: number, file: string): void {
    const filled = Math.round((done / this.total) * ProgressBar.WIDTH);
    const bar = `${'#'.repeat(filled)}${'-'.repeat(ProgressBar.WIDTH - filled)}`;
    const columns = process.stderr.columns ?? 80;
    process.stderr.write(`\r\u001b[K${`[${bar}] ${done}/${this.total} ${basename(file)}`.slice(0, columns - 1)}`);
  }

  clear(): void {
    process.stderr.write('\r\u001b[K');
  }
}
