/**
 * Worker-thread side of decodeImageIsolated: decodes one image and posts the result (pixel buffer
 * transferred, not copied) or the ImagingError's fields.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { decodeImage } from '../decode.ts';
import { ImagingError } from '../errors.ts';
import type { ProbeLimits } from '../limits.ts';
import type { ProbeOptions } from '../probe.ts';

interface Job {
  bytes: Uint8Array;
  limits: ProbeLimits;
  options: ProbeOptions;
}

const job = workerData as Job;
try {
  const image = await decodeImage(job.bytes, job.limits, job.options);
  parentPort?.postMessage({ ok: true, image }, [image.pixels.buffer as ArrayBuffer]);
} catch (err) {
  const e =
    err instanceof ImagingError
      ? { code: err.code, status: err.status, message: err.message }
      : { code: 'corrupt', status: 422, message: 'The image could not be decoded.' };
  parentPort?.postMessage({ ok: false, error: e });
}
