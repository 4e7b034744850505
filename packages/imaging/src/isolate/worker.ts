/**
 * Worker-thread side of decodeImageIsolated and the decode pool: decodes images and posts each
 * result (pixel buffer transferred, not copied) or the ImagingError's fields. With `workerData.job`
 * it does that one job; otherwise it serves jobs sent as messages, one at a time.
 *
 * A job may name a preparation: a function of the decoded image run here too (a model's
 * preprocessing), so that the full-resolution pixels never cross to the caller's thread; only its
 * result does, its typed arrays transferred.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { decodeImage } from '../decode.ts';
import { ImagingError } from '../errors.ts';
import type { DecodedImage } from '../image.ts';
import type { ProbeLimits } from '../limits.ts';
import type { ProbeOptions } from '../probe.ts';

export interface Job {
  bytes: Uint8Array;
  limits: ProbeLimits;
  options: ProbeOptions;
  prepare?: Preparation;
}

/** `module`'s export `name`, called as fn(image, options) in the worker; options must be cloneable. */
export interface Preparation {
  module: string;
  name: string;
  options: unknown;
}

export type Reply =
  | { ok: true; image: DecodedImage; prepared?: { value: unknown; millis: number } }
  | { ok: false; error: { code: ImagingError['code']; status: ImagingError['status']; message: string } };

async function run(job: Job): Promise<Reply> {
  let image: DecodedImage;
  try {
    image = await decodeImage(job.bytes, job.limits, job.options);
  } catch (err) {
    return {
      ok: false,
      error:
        err instanceof ImagingError
          ? { code: err.code, status: err.status, message: err.message }
          : { code: 'corrupt', status: 422, message: 'The image could not be decoded.' },
    };
  }
  if (!job.prepare) return { ok: true, image };
  const started = performance.now();
  try {
    const { module, name, options } = job.prepare;
    const fn = ((await import(module)) as Record<string, (image: DecodedImage, options: unknown) => unknown>)[name];
    if (typeof fn !== 'function') throw new Error(`${module} has no function ${name}.`);
    const value = fn(image, options);
    // The pixels stay here: the caller asked for what was prepared from them.
    return {
      ok: true,
      image: { ...image, pixels: image.pixels.subarray(0, 0) },
      prepared: { value, millis: performance.now() - started },
    };
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    return {
      ok: false,
      error: { code: 'corrupt', status: 422, message: `The image could not be prepared: ${reason}` },
    };
  }
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
