import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import { Worker } from 'node:worker_threads';
import { ImagingError } from '../errors.ts';
import type { DecodedImage } from '../image.ts';
import type { ProbeLimits } from '../limits.ts';
import type { ProbeOptions } from '../probe.ts';
import type { Job, Preparation, Reply } from './worker.ts';

export type { Preparation } from './worker.ts';

/**
 * decodeImage in worker threads with a hard time limit. A WebAssembly decoder cannot be
 * interrupted in process, so this is how a server keeps one hostile or merely huge file from
 * stalling it: at the deadline the worker is terminated (413). Workers load the TypeScript sources
 * through tsx, as the server itself does.
 */
export interface IsolationOptions extends ProbeOptions {
  /** Hard wall-clock limit per decode. */
  timeoutMs: number;
  /** Heap cap for each worker's JavaScript, in MiB (pixel buffers and WebAssembly memory come on top). */
  maxOldGenerationSizeMb?: number;
}

/** One worker for one decode (about 0.7–1 s of start-up here). Prefer a pool for throughput. */
export async function decodeImageIsolated(
  bytes: Uint8Array,
  limits: ProbeLimits,
  options: IsolationOptions,
): Promise<DecodedImage> {
  const { timeoutMs, maxOldGenerationSizeMb, ...probeOptions } = options;
  const job: Job = { bytes, limits, options: probeOptions };
  const worker = spawn({ job }, maxOldGenerationSizeMb);
  try {
    return await withDeadline(
      new Promise<Reply>((resolve, reject) => {
        worker.once('message', resolve);
        worker.once('error', reject);
        worker.once('exit', (code) => reject(new Error(`exit ${code}`)));
      }),
      timeoutMs,
    ).then(unwrap);
  } finally {
    void worker.terminate();
  }
}

/** What a pool job decodes: bytes, or a file that the worker reads itself. */
export type DecodeInput = Uint8Array | { file: string };

export interface DecodePool {
  decode(bytes: Uint8Array, limits: ProbeLimits, options?: ProbeOptions): Promise<DecodedImage>;
  /**
   * Decodes and runs `prepare` on the image in the worker: the image comes back without its pixels
   * (an empty array of their type), with what was prepared and how long preparing took. With
   * `giveBytes`, a buffer that `bytes` fills alone is moved to the worker rather than copied (the
   * caller's view becomes empty). With `open`, the bytes are first opened in the worker by that
   * function (for example decrypted and verified); if it throws, the promise rejects with NotOpenedError.
   *
   * Given a file, the worker reads it: its bytes never pass through this thread. A missing file
   * rejects with NotOpenedError, any other failure to read it with an Error (worth a retry).
   */
  decodePrepared<T>(
    input: DecodeInput,
    limits: ProbeLimits,
    prepare: Preparation,
    options?: { giveBytes?: boolean; open?: Preparation },
  ): Promise<{ image: DecodedImage; prepared: T; prepareMillis: number; openMillis: number }>;
  close(): Promise<void>;
}

/**
 * A fixed set of warm workers, one decode each at a time, jobs queued in order. A worker that
 * overruns `timeoutMs`, crashes or runs out of memory is replaced; its job fails with ImagingError.
 */
export function createDecodePool(options: {
  size: number;
  timeoutMs: number;
  maxOldGenerationSizeMb?: number;
}): DecodePool {
  interface Slot {
    worker: Worker;
    busy: boolean;
  }
  interface Pending {
    job: Job;
    transfer: ArrayBuffer[];
    resolve: (reply: Reply & { ok: true }) => void;
    reject: (err: unknown) => void;
  }
  const queue: Pending[] = [];
  const slots: Slot[] = [];
  let nextId = 0;
  let closed = false;

  const pump = (): void => {
    for (const slot of slots) {
      if (slot.busy || queue.length === 0) continue;
      const pending = queue.shift();
      if (!pending) return;
      slot.busy = true;
      const id = nextId++;
      const worker = slot.worker;
      let detach = (): void => undefined;
      const done = new Promise<Reply>((resolve, reject) => {
        const onMessage = (message: { id: number; reply: Reply }): void => {
          if (message.id === id) resolve(message.reply);
        };
        const onError = (err: Error): void => reject(err);
        const onExit = (code: number): void => reject(new Error(`exit ${code}`));
        worker.on('message', onMessage);
        worker.on('error', onError);
        worker.on('exit', onExit);
        detach = () => {
          worker.off('message', onMessage);
          worker.off('error', onError);
          worker.off('exit', onExit);
        };
      });
      worker.postMessage({ id, job: pending.job }, pending.transfer);
      const replaceWorker = (): void => {
        const old = slot.worker;
        slot.worker = spawn({}, options.maxOldGenerationSizeMb);
        void old.terminate();
      };
      withDeadline(done, options.timeoutMs)
        .finally(() => detach())
        .then(
          (reply) => {
            // A failure to decode or prepare may leave a WebAssembly codec's memory behind, so
            // that worker is replaced too; input never opened or read touched no codec.
            if (!reply.ok && !('notOpened' in reply) && !('notRead' in reply)) replaceWorker();
            slot.busy = false;
            try {
              pending.resolve(succeeded(reply));
            } catch (err) {
              pending.reject(err);
            }
          },
          (err: unknown) => {
            // The worker may be stuck or dead: replace it rather than reuse it.
            replaceWorker();
            slot.busy = false;
            pending.reject(err);
          },
        )
        .finally(() => {
          if (!closed) pump();
        });
    }
  };

  for (let i = 0; i < Math.max(1, options.size); i++) {
    slots.push({ worker: spawn({}, options.maxOldGenerationSizeMb), busy: false });
  }
  const submit = (job: Job, transfer: ArrayBuffer[]): Promise<Reply & { ok: true }> => {
    if (closed) return Promise.reject(new Error('The decode pool is closed.'));
    return new Promise((resolve, reject) => {
      queue.push({ job, transfer, resolve, reject });
      pump();
    });
  };
  return {
    async decode(bytes, limits, probeOptions = {}) {
      return (await submit({ bytes, limits, options: probeOptions }, [])).image;
    },
    async decodePrepared<T>(
      input: DecodeInput,
      limits: ProbeLimits,
      prepare: Preparation,
      { giveBytes = false, open }: { giveBytes?: boolean; open?: Preparation } = {},
    ) {
      let source: Pick<Job, 'bytes' | 'file'>;
      let transfer: ArrayBuffer[] = [];
      if (input instanceof Uint8Array) {
        const whole = input.byteOffset === 0 && input.byteLength === input.buffer.byteLength;
        if (giveBytes && whole && input.buffer instanceof ArrayBuffer) transfer = [input.buffer];
        source = { bytes: input };
      } else {
        source = { file: input.file };
      }
      const reply = await submit({ ...source, limits, options: {}, prepare, ...(open ? { open } : {}) }, transfer);
      if (!reply.prepared) throw new Error('The decode worker returned nothing prepared.');
      return {
        image: reply.image,
        prepared: reply.prepared.value as T,
        prepareMillis: reply.prepared.millis,
        openMillis: reply.openMillis ?? 0,
      };
    },
    async close() {
      closed = true;
      for (const pending of queue.splice(0)) pending.reject(new Error('The decode pool was closed.'));
      await Promise.all(slots.map((s) => s.worker.terminate()));
    },
  };
}

/**
 * A decode thread allocates one large buffer per image (the decrypted file, 8 MB for a 2048²
 * radiograph) and holds it across the model's asynchronous run, so it outlives a young-generation
 * collection. V8 counts such memory against the old generation's limit, set from the thread's
 * small heap (16 MB): without room to grow, some threads fell into a full collection every image
 * or two (up to 5 ms of CPU an image). A floor under that limit, for isolates created from now on
 * (so the decode threads, not the main thread), lets those buffers go in the ordinary way.
 */
let oldSpaceFloorSet = false;
function setDecodeThreadOldSpaceFloor(): void {
  if (oldSpaceFloorSet) return;
  oldSpaceFloorSet = true;
  setFlagsFromString(`--initial-old-space-size=${DECODE_THREAD_OLD_SPACE_FLOOR_MB}`);
}
const DECODE_THREAD_OLD_SPACE_FLOOR_MB = 128;

function spawn(workerData: { job?: Job }, maxOldGenerationSizeMb?: number): Worker {
  setDecodeThreadOldSpaceFloor();
  const entry = new URL('./worker.ts', import.meta.url).href;
  const bootstrap = `import { register } from ${JSON.stringify(tsxEsmApi())}; register(); await import(${JSON.stringify(entry)});`;
  const worker = new Worker(new URL(`data:text/javascript,${encodeURIComponent(bootstrap)}`), {
    workerData,
    ...(maxOldGenerationSizeMb ? { resourceLimits: { maxOldGenerationSizeMb } } : {}),
  });
  worker.unref(); // an idle pool never keeps the process alive
  return worker;
}

/** Resolves with the reply, or rejects with 413 at the deadline, or a 422 if the worker died. */
function withDeadline(reply: Promise<Reply>, timeoutMs: number): Promise<Reply> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new ImagingError('too_large', `Decoding took longer than ${timeoutMs} ms and was stopped.`)),
      timeoutMs,
    );
  });
  const guarded = reply.catch((err: unknown) => {
    throw new ImagingError('too_large', 'The decoder ran out of resources or stopped unexpectedly.', { cause: err });
  });
  return Promise.race([guarded, deadline]).finally(() => clearTimeout(timer));
}

/** The job's `open` function threw: the bytes were never decoded (for example, they failed verification). */
export class NotOpenedError extends Error {
  override readonly name = 'NotOpenedError';
}

function succeeded(reply: Reply): Reply & { ok: true } {
  if (reply.ok) return reply;
  if ('notOpened' in reply) throw new NotOpenedError(reply.notOpened);
  if ('notRead' in reply) throw new Error(`The file could not be read: ${reply.notRead}`);
  throw new ImagingError(reply.error.code, reply.error.message, { status: reply.error.status });
}

function unwrap(reply: Reply): DecodedImage {
  return succeeded(reply).image;
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
