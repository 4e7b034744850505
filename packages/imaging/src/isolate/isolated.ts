import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { ImagingErrorCode, ImagingErrorStatus } from '../errors.ts';
import { ImagingError } from '../errors.ts';
import type { DecodedImage } from '../image.ts';
import type { ProbeLimits } from '../limits.ts';
import type { ProbeOptions } from '../probe.ts';

export interface IsolationOptions extends ProbeOptions {
  /** Hard wall-clock limit: the worker is terminated when it runs out (413 too_large). */
  timeoutMs: number;
  /** Heap cap for the worker's JavaScript, in MiB (pixel buffers and WebAssembly memory come on top). */
  maxOldGenerationSizeMb?: number;
}

type Reply =
  | { ok: true; image: DecodedImage }
  | { ok: false; error: { code: ImagingErrorCode; status: ImagingErrorStatus; message: string } };

/**
 * decodeImage in a worker thread with a hard time limit: a WebAssembly decoder cannot be interrupted
 * in process, so this is how a server keeps one hostile or merely huge file from stalling it. The
 * worker loads the TypeScript sources through tsx, as the server itself does. One worker per call
 * (about 0.1-0.3 s of start-up); callers wanting throughput should pool.
 */
export function decodeImageIsolated(
  bytes: Uint8Array,
  limits: ProbeLimits,
  options: IsolationOptions,
): Promise<DecodedImage> {
  const tsx = tsxEsmApi();
  const entry = new URL('./worker.ts', import.meta.url).href;
  const bootstrap = `import { register } from ${JSON.stringify(tsx)}; register(); await import(${JSON.stringify(entry)});`;
  const { timeoutMs, maxOldGenerationSizeMb, ...probeOptions } = options;
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL(`data:text/javascript,${encodeURIComponent(bootstrap)}`), {
      workerData: { bytes, limits, options: probeOptions },
      ...(maxOldGenerationSizeMb ? { resourceLimits: { maxOldGenerationSizeMb } } : {}),
    });
    let settled = false;
    const finish = (fn: () => void): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      fn();
      void worker.terminate();
    };
    const timer = setTimeout(() => {
      finish(() => reject(new ImagingError('too_large', `Decoding took longer than ${timeoutMs} ms and was stopped.`)));
    }, timeoutMs);
    worker.once('message', (reply: Reply) => {
      finish(() => {
        if (reply.ok) resolve(reply.image);
        else reject(new ImagingError(reply.error.code, reply.error.message, { status: reply.error.status }));
      });
    });
    worker.once('error', (err) => {
      finish(() =>
        reject(new ImagingError('too_large', 'Decoding ran out of resources and was stopped.', { cause: err })),
      );
    });
    worker.once('exit', (code) => {
      finish(() => reject(new ImagingError('corrupt', `The decoder stopped unexpectedly (exit code ${code}).`)));
    });
  });
}

/** URL of tsx's ESM API, from its package exports (require.resolve would pick the CommonJS build). */
function tsxEsmApi(): string {
  const packageJson = createRequire(import.meta.url).resolve('tsx/package.json');
  const manifest = JSON.parse(readFileSync(packageJson, 'utf8')) as {
    exports: Record<string, { import?: { default?: string } }>;
  };
  const target = manifest.exports['./esm/api']?.import?.default ?? './dist/esm/api/index.mjs';
  return pathToFileURL(join(dirname(packageJson), target)).href;
}
