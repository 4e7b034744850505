/**
 * Bounded mutation fuzzing: valid files of every supported kind, mutated with a fixed seed, must
 * either probe, decode, render (and, for some DICOM, de-identify) or fail with ImagingError, never another exception and never a hang. Set
 * FUZZ_ITERATIONS (default 300) and FUZZ_SEED to run longer in CI.
 */
import { deflateRawSync } from 'node:zlib';
import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import { decodeImage } from './decode.ts';
import { deidentifyDicom } from './deid/deidentify.ts';
import { ImagingError } from './errors.ts';
import { probeImage } from './probe.ts';
import { renderDisplayPng } from './render.ts';
import { sniffFormat } from './sniff.ts';
import { concat, metaGroup } from './testing/dicom-writer.ts';
import type { SyntheticSpec } from './testing/fixtures.ts';
import { dcmtk, hasDcmtk, hasPydicomFiles, prng, readPydicom, syntheticDicom } from './testing/fixtures.ts';
import { encodeJpeg2000Dicom } from './testing/jpeg2000.ts';

const ITERATIONS = Number(process.env.FUZZ_ITERATIONS ?? 300);
const SEED = Number(process.env.FUZZ_SEED ?? 20261123);
const LIMITS = { maxPixels: 4_000_000, maxDimension: 4096 };
const PER_INPUT_MS = 3000;

const grey12: SyntheticSpec = {
  rows: 24,
  columns: 20,
  frames: 2,
  bitsAllocated: 16,
  bitsStored: 12,
  signed: false,
  samplesPerPixel: 1,
};
const rgb8: SyntheticSpec = {
  rows: 16,
  columns: 18,
  frames: 1,
  bitsAllocated: 8,
  bitsStored: 8,
  signed: false,
  samplesPerPixel: 3,
};

const seeds: { name: string; bytes: Uint8Array }[] = [];

beforeAll(async () => {
  const native = syntheticDicom(grey12).file;
  const colour = syntheticDicom(rgb8).file;
  seeds.push({ name: 'explicit LE', bytes: native }, { name: 'RGB', bytes: colour });
  // Deflated: meta group, then the raw-deflated data set (PS3.5 A.5).
  const dataset = native.subarray(132 + metaGroup('1.2.840.10008.1.2.1').length);
  seeds.push({
    name: 'deflate',
    bytes: concat([
      new Uint8Array(128),
      new TextEncoder().encode('DICM'),
      metaGroup('1.2.840.10008.1.2.1.99'),
      deflateRawSync(dataset),
    ]),
  });
  if (hasDcmtk()) {
    seeds.push(
      { name: 'implicit', bytes: dcmtk('dcmconv', ['+ti'], native) },
      { name: 'big endian', bytes: dcmtk('dcmconv', ['+tb'], native) },
      { name: 'RLE', bytes: dcmtk('dcmcrle', [], native) },
      { name: 'JPEG lossless', bytes: dcmtk('dcmcjpeg', ['+e1'], native) },
      { name: 'JPEG extended 12-bit', bytes: dcmtk('dcmcjpeg', ['+ee'], native) },
      { name: 'JPEG baseline RGB', bytes: dcmtk('dcmcjpeg', ['+eb'], colour) },
      { name: 'JPEG-LS', bytes: dcmtk('dcmcjpls', [], native) },
    );
  }
  seeds.push({ name: 'HTJ2K', bytes: await encodeJpeg2000Dicom(grey12, native, 'htj2k') });
  if (hasPydicomFiles) {
    seeds.push({ name: 'JPEG 2000', bytes: readPydicom('MR_small_jp2klossless.dcm') });
  }
  const raw = Buffer.from(Uint8Array.from({ length: 24 * 16 * 3 }, (_, i) => (i * 7) % 251));
  const img = sharp(raw, { raw: { width: 24, height: 16, channels: 3 } });
  seeds.push(
    // Copied out of Buffers: Buffer#slice is a view, and mutations must never touch the seeds.
    { name: 'PNG', bytes: new Uint8Array(await img.clone().png().toBuffer()) },
    { name: 'JPEG', bytes: new Uint8Array(await img.clone().jpeg().toBuffer()) },
    { name: 'TIFF', bytes: new Uint8Array(await img.clone().tiff({ compression: 'lzw' }).toBuffer()) },
  );
});

type Mutation = (b: Uint8Array, rnd: () => number) => Uint8Array;
const pick = (rnd: () => number, n: number): number => Math.floor(rnd() * n);

const MUTATIONS: [string, Mutation][] = [
  [
    'flip bytes',
    (b, rnd) => {
      const out = b.slice();
      for (let i = 0, n = 1 + pick(rnd, 16); i < n; i++) out[pick(rnd, out.length)] = pick(rnd, 256);
      return out;
    },
  ],
  [
    'lying 32-bit length',
    (b, rnd) => {
      const out = b.slice();
      const at = pick(rnd, Math.max(1, out.length - 4));
      new DataView(out.buffer).setUint32(
        at,
        [0xffffffff, 0x7fffffff, 0xfffffff0, pick(rnd, 2 ** 32)][pick(rnd, 4)] ?? 0,
        true,
      );
      return out;
    },
  ],
  [
    'lying 16-bit value',
    (b, rnd) => {
      const out = b.slice();
      new DataView(out.buffer).setUint16(
        pick(rnd, Math.max(1, out.length - 2)),
        [0xffff, 0, 1, 0x8000][pick(rnd, 4)] ?? 0,
        true,
      );
      return out;
    },
  ],
  ['truncate', (b, rnd) => b.subarray(0, pick(rnd, b.length))],
  [
    'corrupt the tail (pixel data, codestreams)',
    (b, rnd) => {
      const out = b.slice();
      const start = Math.floor(out.length * 0.6);
      for (let i = 0, n = 1 + pick(rnd, 64); i < n; i++) out[start + pick(rnd, out.length - start)] = pick(rnd, 256);
      return out;
    },
  ],
  [
    'delete or duplicate a chunk',
    (b, rnd) => {
      const at = pick(rnd, b.length);
      const len = 1 + pick(rnd, 64);
      return rnd() < 0.5
        ? concat([b.subarray(0, at), b.subarray(at + len)])
        : concat([b.subarray(0, at + len), b.subarray(at)]);
    },
  ],
];

describe('fuzzing decodeImage and probeImage', () => {
  it(`only ever throws ImagingError, in bounded time (${ITERATIONS} mutations, seed ${SEED})`, async () => {
    expect(seeds.length).toBeGreaterThanOrEqual(6);
    const rnd = prng(SEED);
    const outcomes = { decoded: 0, refused: 0 };
    for (let i = 0; i < ITERATIONS; i++) {
      const seed = seeds[pick(rnd, seeds.length)]!;
      const [mutationName, mutate] = MUTATIONS[pick(rnd, MUTATIONS.length)]!;
      const input = mutate(seed.bytes, rnd);
      const label = `iteration ${i}: ${mutationName} of ${seed.name}`;
      const started = performance.now();
      try {
        await probeImage(input, LIMITS);
        if (sniffFormat(input) === 'dicom' && rnd() < 0.3) {
          deidentifyDicom(input, { uidSecret: 'fuzzing-secret-0123456789', burnedInAnnotation: 'warn' });
        }
        const image = await decodeImage(input, LIMITS);
        await renderDisplayPng(image, { maxSize: 32 });
        outcomes.decoded += 1;
      } catch (err) {
        if (!(err instanceof ImagingError)) {
          throw new Error(`${label} threw a non-ImagingError: ${String(err)}`, { cause: err });
        }
        expect(err.message.length, label).toBeGreaterThan(10);
        outcomes.refused += 1;
      }
      expect(performance.now() - started, label).toBeLessThan(PER_INPUT_MS);
    }
    expect(outcomes.decoded + outcomes.refused).toBe(ITERATIONS);
    // Both paths must be exercised for the fuzz to mean anything.
    expect(outcomes.refused).toBeGreaterThan(ITERATIONS / 10);
    expect(outcomes.decoded).toBeGreaterThan(ITERATIONS / 20);
  }, 60_000);

  it('still decodes valid files after the fuzzing (codec state recovers)', async () => {
    for (const seed of seeds) {
      await expect(decodeImage(seed.bytes, LIMITS), seed.name).resolves.toBeTruthy();
    }
  });
});
