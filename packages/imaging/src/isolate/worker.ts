/**
 * Worker-thread side of decodeImageIsolated and the decode pool: decodes images and posts each
 * result (pixel buffer transferred, not copied) or the ImagingError's fields. With `workerData.job`
 * it does that one job; otherwise it serves jobs sent as messages, one at a time.
 *
 * A job's input is bytes (this thread's own: moved or copied here) or a file that this thread
 * reads. Either way the bytes belong to this thread, so uncompressed pixels are decoded in place
 * (decodeImage's `consumeBytes`).
 *
 * A job may name a preparation: a function of the decoded image run here too, possibly
 * asynchronous (a model's whole analysis), so that the full-resolution pixels never cross to the
 * caller's thread; only its result does, its top-level typed arrays transferred. It may also name an opening: a function of the bytes
 * that turns what was read from storage into the file (decrypting and verifying it), run here
 * first, so that this work too stays off the caller's thread.
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import { decodeImage } from '../decode.ts';
import { ImagingError } from '../errors.ts';
import type { DecodedImage, PixelArray } from '../image.ts';
import type { ProbeLimits } from '../limits.ts';
import type { ProbeOptions } from '../probe.ts';

export interface Job {
  /** The input: these bytes, or else the file at `file`. */
  bytes?: Uint8Array;
  file?: string;
  limits: ProbeLimits;
  options: ProbeOptions;
  prepare?: Preparation;
  /** fn(bytes, options) → the file's bytes; whatever it throws fails the job as not opened. */
  open?: Preparation;
}

/** `module`'s export `name`, called as fn(image, options) in the worker; options must be cloneable. */
export interface Preparation {
  module: string;
  name: string;
  options: unknown;
}

export type Reply =
  | { ok: true; image: DecodedImage; prepared?: { value: unknown; millis: number }; openMillis?: number }
  | { ok: false; error: { code: ImagingError['code']; status: ImagingError['status']; message: string } }
  | { ok: false; notOpened: string }
  /** The file could not be read, for a reason other than its absence (which is `notOpened`). */
  | { ok: false; notRead: string };

/** `module`'s export `name`, loaded once per worker. */
async function functionOf<F>(preparation: Preparation): Promise<F> {
  const fn = ((await import(preparation.module)) as Record<string, unknown>)[preparation.name];
  if (typeof fn !== 'function') throw new Error(`${preparation.module} has no function ${preparation.name}.`);
  return fn as F;
}

/**
 * Files to be opened are read into this buffer, reused from job to job: `open` turns them into new
 * memory (a decrypted copy), so, unlike the 8 MB read afresh for each radiograph, it adds nothing
 * for the garbage collector to find. Should a job's result take it (transferred), it is
 * detached, and the next read allocates another.
 */
let readBuffer = new Uint8Array(0);

function readInput(file: string, reusable: boolean): Uint8Array {
  const fd = openSync(file, 'r');
  try {
    const { size } = fstatSync(fd);
    if (reusable && readBuffer.byteLength < size) readBuffer = new Uint8Array(size + (size >> 3));
    const target = reusable ? readBuffer : new Uint8Array(size);
    let filled = 0;
    while (filled < size) {
      const read = readSync(fd, target, filled, size - filled, filled);
      if (read === 0) break;
      filled += read;
    }
    return target.subarray(0, filled);
  } finally {
    closeSync(fd);
  }
}

async function run(job: Job): Promise<Reply> {
  let bytes: Uint8Array;
  try {
    bytes = job.file === undefined ? (job.bytes ?? new Uint8Array(0)) : readInput(job.file, job.open !== undefined);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { ok: false, notOpened: 'The file is missing.' };
    return { ok: false, notRead: err instanceof Error ? err.message : String(err) };
  }
  let openMillis: number | undefined;
  if (job.open) {
    try {
      const open = await functionOf<(bytes: Uint8Array, options: unknown) => Uint8Array>(job.open);
      const opening = performance.now();
      bytes = open(bytes, job.open.options);
      openMillis = performance.now() - opening;
    } catch (err) {
      return { ok: false, notOpened: err instanceof Error ? err.message : String(err) };
    }
  }
  let image: DecodedImage;
  try {
    image = await decodeImage(bytes, job.limits, { ...job.options, consumeBytes: true });
  } catch (err) {
    return {
      ok: false,
      error:
        err instanceof ImagingError
          ? { code: err.code, status: err.status, message: err.message }
          : { code: 'corrupt', status: 422, message: 'The image could not be decoded.' },
    };
  }
  const opened = openMillis === undefined ? {} : { openMillis };
  if (!job.prepare) return { ok: true, image, ...opened };
  const started = performance.now();
  try {
    const fn = await functionOf<(image: DecodedImage, options: unknown) => unknown>(job.prepare);
    // May be asynchronous (a model run).
    const value: unknown = await fn(image, job.prepare.options);
    // The pixels stay here: the caller asked for what was prepared from them. An empty array of
    // their type, not an empty view of them: posting a view copies its whole buffer (8 MB for a
    // 2048² radiograph, copied here and allocated again on the caller's thread).
    return {
      ok: true,
      image: { ...image, pixels: emptyLike(image.pixels) },
      prepared: { value, millis: performance.now() - started },
      ...opened,
    };
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    return {
      ok: false,
      error: { code: 'corrupt', status: 422, message: `The image could not be prepared: ${reason}` },
    };
  }
}

function emptyLike(pixels: PixelArray): PixelArray {
  return new (pixels.constructor as new (length: number) => PixelArray)(0);
}

/** The typed arrays' buffers to move rather than copy: the pixels, or the prepared value's own arrays. */
function transfer(reply: Reply): ArrayBuffer[] {
  if (!reply.ok) return [];
  if (!reply.prepared) return [reply.image.pixels.buffer as ArrayBuffer];
  const value = reply.prepared.value;
  if (typeof value !== 'object' || value === null) return [];
  return Object.values(value).flatMap((v) =>
    ArrayBuffer.isView(v) && v.byteOffset === 0 && v.byteLength === v.buffer.byteLength
      ? [v.buffer as ArrayBuffer]
      : [],
  );
}
const data = workerData as { job?: Job } | null;
const port = parentPort;
if (port && data?.job) {
  const reply = await run(data.job);
  port.postMessage(reply, transfer(reply));
} else if (port) {
  port.on('message', (message: { id: number; job: Job }) => {
    void run(message.job).then((reply) => port.postMessage({ id: message.id, reply }, transfer(reply)));
  });
}
