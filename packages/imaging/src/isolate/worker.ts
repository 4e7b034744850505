/**
 * Worker-thread side of decodeImageIsolated and the decode pool: decodes images and posts each
 * result (pixel buffer transferred, not copied) or the ImagingError's fields. With `workerData.job`
 * it does that one job; otherwise it serves jobs sent as messages, one at a time.
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
}

export type Reply =
  | { ok: true; image: DecodedImage }
  | { ok: false; error: { code: ImagingError['code']; status: ImagingError['status']; message: string } };

async function run(job: Job): Promise<Reply> {
  try {
    return { ok: true, image: await decodeImage(job.bytes, job.limits, job.options) };
  } catch (err) {
    return {
      ok: false,
      error:
        err instanceof ImagingError
          ? { code: err.code, status: err.status, message: err.message }
          : { code: 'corrupt', status: 422, message: 'The image could not be decoded.' },
    };
  }
}

const transfer = (reply: Reply): ArrayBuffer[] => (reply.ok ? [reply.image.pixels.buffer as ArrayBuffer] : []);
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
