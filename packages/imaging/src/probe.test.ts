import { existsSync, readFileSync } from 'node:fs';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { ImagingError } from './errors.ts';
import { decodeImage } from './decode.ts';
import { probeImage } from './probe.ts';
import { imageDataset, part10 } from './testing/dicom-writer.ts';

const LIMITS = { maxPixels: 50_000_000, maxDimension: 16_384 };
const PYDICOM = '/usr/lib/python3/dist-packages/pydicom/data/test_files/';

async function rejection(p: Promise<unknown>): Promise<ImagingError> {
  const err: unknown = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ImagingError);
  return err as ImagingError;
}

describe('probeImage on raster formats', () => {
  it('reads PNG, JPEG and 16-bit TIFF headers', async () => {
    const grey16 = { raw: { width: 33, height: 17, channels: 1 as const } };
    const raw = Buffer.alloc(33 * 17 * 2, 7);
    const png = await sharp(raw, { raw: { ...grey16.raw, premultiplied: false } })
      .toColourspace('grey16')
      .png()
      .toBuffer();
    const rgb = Buffer.alloc(40 * 30 * 3, 100);
    const jpeg = await sharp(rgb, { raw: { width: 40, height: 30, channels: 3 } })
      .jpeg()
      .toBuffer();
    const tiff = await sharp(raw, { raw: { width: 33, height: 17, channels: 1 } })
      .toColourspace('grey16')
      .tiff()
      .toBuffer();
    await expect(probeImage(png, LIMITS)).resolves.toMatchObject({
      format: 'png',
      mediaType: 'image/png',
      width: 33,
      height: 17,
      frames: 1,
    });
    await expect(probeImage(jpeg, LIMITS)).resolves.toMatchObject({
      format: 'jpeg',
      width: 40,
      height: 30,
      samplesPerPixel: 3,
    });
    await expect(probeImage(tiff, LIMITS)).resolves.toMatchObject({ format: 'tiff', width: 33, height: 17 });
  });

  it('refuses a PNG whose header claims absurd dimensions, before decoding', async () => {
    const png = await sharp({ create: { width: 4, height: 4, channels: 3, background: 'black' } })
      .png()
      .toBuffer();
    const forged = new Uint8Array(png);
    new DataView(forged.buffer).setUint32(16, 100_000); // IHDR width
    new DataView(forged.buffer).setUint32(20, 100_000); // IHDR height
    const err = await rejection(probeImage(forged, LIMITS));
    expect(err).toMatchObject({ code: 'too_large', status: 413 });
    expect(err.message).toMatch(/100000×100000/);
  });

  it('refuses a PNG declared as DICOM (a PNG renamed .dcm)', async () => {
    const png = await sharp({ create: { width: 4, height: 4, channels: 3, background: 'black' } })
      .png()
      .toBuffer();
    const err = await rejection(probeImage(png, LIMITS, { expectedFormat: 'dicom' }));
    expect(err).toMatchObject({ code: 'unsupported_format', status: 415 });
    expect(err.message).toBe('The content is a PNG image, not DICOM as declared.');
  });

  it('gives clear errors for empty, unknown and truncated content', async () => {
    expect(await rejection(probeImage(new Uint8Array(), LIMITS))).toMatchObject({ code: 'corrupt', status: 400 });
    expect(await rejection(probeImage(new TextEncoder().encode('%PDF-1.7 not an image'), LIMITS))).toMatchObject({
      code: 'unsupported_format',
      status: 415,
    });
    const jpeg = await sharp({ create: { width: 4, height: 4, channels: 3, background: 'red' } })
      .jpeg()
      .toBuffer();
    expect(await rejection(probeImage(jpeg.subarray(0, 20), LIMITS))).toMatchObject({ code: 'corrupt', status: 422 });
    expect(await rejection(probeImage(new Uint8Array([0x49, 0x49, 0x2a, 0, 0xff, 0xff, 0, 0]), LIMITS))).toMatchObject({
      code: 'corrupt',
    });
  });
});

describe('probeImage on DICOM', () => {
  it('reads the image pixel module and identifying tags', async () => {
    const probe = await probeImage(part10(imageDataset({ rows: 3, columns: 5, frames: 2 })), LIMITS);
    expect(probe).toMatchObject({
      format: 'dicom',
      mediaType: 'application/dicom',
      width: 5,
      height: 3,
      frames: 2,
      bitsAllocated: 16,
      samplesPerPixel: 1,
      dicom: {
        patientId: 'P-001',
        patientName: 'Test^Patient',
        modality: 'OT',
        transferSyntaxUid: '1.2.840.10008.1.2.1',
      },
    });
  });

  it('refuses rows × columns × frames over the limit (decompression bomb) with 413', async () => {
    // Header claims 60000 frames of 1000×1000; the pixel data is tiny (encapsulated, never decoded).
    const file = part10(
      imageDataset({ rows: 1000, columns: 1000, frames: 60_000, pixels: new Uint8Array(2) }).subarray(0),
      '1.2.840.10008.1.2.1',
    );
    const err = await rejection(probeImage(file, LIMITS));
    expect(err).toMatchObject({ code: 'too_large', status: 413 });
  });

  it('refuses uncompressed pixel data shorter than the header needs, at probe time', async () => {
    const short = part10(imageDataset({ rows: 10, columns: 10, pixels: new Uint8Array(150) }));
    const err = await rejection(probeImage(short, LIMITS));
    expect(err).toMatchObject({ code: 'corrupt', status: 422 });
    expect(err.message).toBe('The pixel data is truncated: 150 bytes where 200 are needed for 1 frame(s).');
  });

  it('names an unsupported transfer syntax', async () => {
    const err = await rejection(
      probeImage(part10(imageDataset({ rows: 2, columns: 2 }), '1.2.840.10008.1.2.4.102'), LIMITS),
    );
    expect(err).toMatchObject({ code: 'unsupported_transfer_syntax', status: 415 });
    expect(err.message).toContain('1.2.840.10008.1.2.4.102 (MPEG-4 AVC/H.264)');
  });

  it('refuses JPEG XL (1.2.840.10008.1.2.4.110-112) with a 415 naming the transfer syntax, at probe and decode', async () => {
    const names = ['JPEG XL Lossless', 'JPEG XL JPEG Recompression', 'JPEG XL'];
    for (const [i, name] of names.entries()) {
      const uid = `1.2.840.10008.1.2.4.11${i}`;
      const file = part10(imageDataset({ rows: 2, columns: 2 }), uid);
      for (const attempt of [probeImage(file, LIMITS), decodeImage(file, LIMITS)]) {
        const err = await rejection(attempt);
        expect(err).toMatchObject({ code: 'unsupported_transfer_syntax', status: 415 });
        expect(err.message).toBe(`The DICOM transfer syntax ${uid} (${name}) is not supported.`);
      }
    }
  });

  it.skipIf(!existsSync(PYDICOM))('reads the pydicom conformance files', async () => {
    const read = (f: string): Uint8Array => readFileSync(PYDICOM + f);
    await expect(probeImage(read('CT_small.dcm'), LIMITS)).resolves.toMatchObject({
      width: 128,
      height: 128,
      dicom: { modality: 'CT' },
    });
    await expect(probeImage(read('MR_small_bigendian.dcm'), LIMITS)).resolves.toMatchObject({ width: 64, height: 64 });
    await expect(probeImage(read('image_dfl.dcm'), LIMITS)).resolves.toMatchObject({ width: 512, height: 512 });
    await expect(probeImage(read('rtdose.dcm'), LIMITS)).resolves.toMatchObject({ frames: 15, bitsAllocated: 32 });
    expect(await rejection(probeImage(read('MR_truncated.dcm'), LIMITS))).toMatchObject({
      code: 'corrupt',
      status: 422,
    });
    expect(await rejection(probeImage(read('test-SR.dcm'), LIMITS))).toMatchObject({ code: 'unsupported_format' });
  });
});
