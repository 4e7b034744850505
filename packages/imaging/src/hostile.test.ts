/**
 * Hostile and broken input (issue 3): each case gets a clear ImagingError with a 4xx status,
 * quickly, before any large allocation.
 */
import { deflateRawSync } from 'node:zlib';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { decodeImage } from './decode.ts';
import { ImagingError } from './errors.ts';
import type { ProbeLimits } from './limits.ts';
import { concat, delimiter, encodeExplicit, imageDataset, item, metaGroup, part10 } from './testing/dicom-writer.ts';

const LIMITS: ProbeLimits = { maxPixels: 40_000_000, maxDimension: 16_384 };

async function refusal(bytes: Uint8Array, limits = LIMITS, expectedFormat?: 'dicom'): Promise<ImagingError> {
  const started = performance.now();
  const err = await decodeImage(bytes, limits, expectedFormat ? { expectedFormat } : {}).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(performance.now() - started).toBeLessThan(1000);
  expect(err).toBeInstanceOf(ImagingError);
  const e = err as ImagingError;
  expect(e.status).toBeGreaterThanOrEqual(400);
  expect(e.status).toBeLessThan(500);
  return e;
}

/** An encapsulated (PS3.5 A.4) JPEG baseline DICOM holding the given frames. */
function encapsulated(rows: number, columns: number, frames: Uint8Array[], samples = 1): Uint8Array {
  const ds = imageDataset({
    rows,
    columns,
    frames: frames.length,
    bitsAllocated: 8,
    samplesPerPixel: samples,
    pixels: new Uint8Array(),
  });
  // Drop the native Pixel Data element the writer appended (12-byte header, empty value).
  const withoutPixels = ds.subarray(0, ds.length - 12);
  const even = (b: Uint8Array): Uint8Array => (b.length % 2 ? concat([b, new Uint8Array(1)]) : b);
  const pixelData = concat([
    encodeExplicit({ tag: 0x7fe00010, vr: 'OB', value: new Uint8Array(), undefinedLength: true }),
    item(new Uint8Array()),
    ...frames.map((f) => item(even(f))),
    delimiter('sequence'),
  ]);
  return part10(concat([withoutPixels, pixelData]), '1.2.840.10008.1.2.4.50');
}

async function jpegFrame(width: number, height: number): Promise<Uint8Array> {
  const raw = Buffer.from(Uint8Array.from({ length: width * height }, (_, i) => i % 256));
  return new Uint8Array(
    await sharp(raw, { raw: { width, height, channels: 1 } })
      .toColourspace('b-w')
      .jpeg()
      .toBuffer(),
  );
}

describe('hostile input to decodeImage', () => {
  it('zero bytes: 400', async () => {
    expect(await refusal(new Uint8Array())).toMatchObject({
      code: 'corrupt',
      status: 400,
      message: 'The file is empty (0 bytes).',
    });
  });

  it('a PNG renamed .dcm: 415 naming both formats', async () => {
    const png = new Uint8Array(
      await sharp({ create: { width: 2, height: 2, channels: 3, background: 'red' } })
        .png()
        .toBuffer(),
    );
    const err = await refusal(png, LIMITS, 'dicom');
    expect(err).toMatchObject({ code: 'unsupported_format', status: 415 });
    expect(err.message).toBe('The content is a PNG image, not DICOM as declared.');
  });

  it('absurd rows × columns × frames: 413 without allocating', async () => {
    const bomb = part10(imageDataset({ rows: 65535, columns: 65535, frames: 1, pixels: new Uint8Array(2) }));
    expect(await refusal(bomb)).toMatchObject({ code: 'too_large', status: 413 });
    const frames = part10(imageDataset({ rows: 512, columns: 512, frames: 2_000_000_000, pixels: new Uint8Array(2) }));
    expect(await refusal(frames)).toMatchObject({ code: 'too_large', status: 413 });
  });

  it('a JPEG frame larger than its DICOM header says: 422 before the codec runs', async () => {
    const frame = await jpegFrame(16, 16);
    // Forge the SOF0 dimensions to 30000 × 30000 (T.81 B.2.2: P, Y, X).
    const sof = frame.findIndex((b, i) => b === 0xff && frame[i + 1] === 0xc0);
    new DataView(frame.buffer).setUint16(sof + 5, 30000);
    new DataView(frame.buffer).setUint16(sof + 7, 30000);
    const err = await refusal(encapsulated(16, 16, [frame]));
    expect(err.message).toMatch(/30000×30000 in its codestream but 16×16 in the DICOM header/);
  });

  it('a compressed frame that is not a codestream at all: 422', async () => {
    const err = await refusal(encapsulated(16, 16, [new TextEncoder().encode('definitely not a JPEG frame')]));
    expect(err).toMatchObject({ code: 'corrupt', status: 422 });
    expect(err.message).toMatch(/^Frame 1 is not a valid JPEG Baseline/);
  });

  it('multi-frame compressed data decodes, and a time budget stops it between frames', async () => {
    const frames = await Promise.all([jpegFrame(16, 8), jpegFrame(16, 8), jpegFrame(16, 8)]);
    const file = encapsulated(8, 16, frames);
    const ok = await decodeImage(file, LIMITS);
    expect(ok.frames).toBe(3);
    expect(await refusal(file, { ...LIMITS, maxMillis: -1 })).toMatchObject({ code: 'too_large', status: 413 });
  });

  it('fewer fragments than frames: 422', async () => {
    const frames = await Promise.all([jpegFrame(16, 8), jpegFrame(16, 8)]);
    const twoFrames = encapsulated(8, 16, frames);
    // Claim three frames while only two fragments exist.
    const patched = new TextDecoder('latin1').decode(twoFrames).replace('IS\x02\x002 ', 'IS\x02\x003 ');
    const err = await refusal(Uint8Array.from(patched, (c) => c.charCodeAt(0)));
    expect(err.message).toMatch(/declares 3 frames but its 2 compressed fragments/);
  });

  it('a deflate bomb: 413', async () => {
    const ds = imageDataset({ rows: 4, columns: 4 });
    const bomb = concat([
      new Uint8Array(128),
      new TextEncoder().encode('DICM'),
      metaGroup('1.2.840.10008.1.2.1.99'),
      deflateRawSync(
        concat([ds, encodeExplicit({ tag: 0x7fe10010, vr: 'OB', value: new Uint8Array(24 * 1024 * 1024) })]),
      ),
    ]);
    expect(bomb.length).toBeLessThan(200_000);
    // 10,000 pixels allow 10,000 × 12 bytes + 16 MiB of inflated data set (limits.ts inflateCap).
    expect(await refusal(bomb, { maxPixels: 10_000, maxDimension: 4096 })).toMatchObject({ code: 'too_large' });
  });

  it('a lying length and a truncated file: 422', async () => {
    const file = part10(imageDataset({ rows: 8, columns: 8 }));
    const lying = file.slice();
    // Pixel Data is the last element: its 32-bit length sits 4 bytes before the 128-byte value.
    new DataView(lying.buffer).setUint32(lying.length - 128 - 4, 0xfffffff0, true);
    expect(await refusal(lying)).toMatchObject({ code: 'corrupt', status: 422 });
    expect(await refusal(file.subarray(0, file.length - 7))).toMatchObject({ code: 'corrupt', status: 422 });
  });
});
