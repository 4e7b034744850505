import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { decodeImage } from '../decode.ts';
import { ImagingError } from '../errors.ts';

const LIMITS = { maxPixels: 1_000_000, maxDimension: 4096 };

/** A baseline uncompressed 16-bit greyscale little-endian TIFF (TIFF 6.0 sections 2 and 4). */
function tiff16(width: number, height: number, pixels: Uint16Array): Uint8Array {
  const entries: [number, number, number, number][] = [
    [256, 3, 1, width],
    [257, 3, 1, height],
    [258, 3, 1, 16],
    [259, 3, 1, 1],
    [262, 3, 1, 1],
    [273, 4, 1, 0], // strip offset, patched below
    [277, 3, 1, 1],
    [278, 3, 1, height],
    [279, 4, 1, pixels.byteLength],
  ];
  const ifdSize = 2 + entries.length * 12 + 4;
  const dataOffset = 8 + ifdSize;
  const out = new Uint8Array(dataOffset + pixels.byteLength);
  const v = new DataView(out.buffer);
  out.set([0x49, 0x49, 0x2a, 0x00]);
  v.setUint32(4, 8, true);
  v.setUint16(8, entries.length, true);
  entries.forEach(([tag, type, count, value], i) => {
    const at = 10 + i * 12;
    v.setUint16(at, tag, true);
    v.setUint16(at + 2, type, true);
    v.setUint32(at + 4, count, true);
    if (type === 3) v.setUint16(at + 8, value, true);
    else v.setUint32(at + 8, tag === 273 ? dataOffset : value, true);
  });
  out.set(new Uint8Array(pixels.buffer, pixels.byteOffset, pixels.byteLength), dataOffset);
  return out;
}

describe('decodeImage on PNG, JPEG and TIFF', () => {
  const width = 37;
  const height = 23;
  const grey16 = Uint16Array.from({ length: width * height }, (_, i) => (i * 97) % 65536);

  it('keeps 16-bit greyscale PNG exact and single-channel', async () => {
    const png = await sharp(new Uint16Array(grey16), { raw: { width, height, channels: 1 } })
      .toColourspace('grey16')
      .png()
      .toBuffer();
    const img = await decodeImage(png, LIMITS);
    expect(img).toMatchObject({ format: 'png', width, height, samplesPerPixel: 1, bitsStored: 16 });
    expect(img.pixels).toBeInstanceOf(Uint16Array);
    expect(Array.from(img.pixels)).toEqual(Array.from(grey16));
  });

  it('keeps 16-bit greyscale TIFF exact', async () => {
    // sharp writes 8-bit TIFF from this input, so the 16-bit file is written by hand.
    const tiff = tiff16(width, height, grey16);
    const img = await decodeImage(tiff, LIMITS);
    expect(img).toMatchObject({ format: 'tiff', samplesPerPixel: 1 });
    expect(Array.from(img.pixels)).toEqual(Array.from(grey16));
  });

  it('decodes RGB PNG exactly and JPEG within lossy error', async () => {
    const rgb = Buffer.from(Uint8Array.from({ length: width * height * 3 }, (_, i) => (i * 31) % 256));
    const png = await sharp(rgb, { raw: { width, height, channels: 3 } })
      .png()
      .toBuffer();
    const fromPng = await decodeImage(png, LIMITS);
    expect(fromPng).toMatchObject({ samplesPerPixel: 3, photometricInterpretation: 'RGB' });
    expect(Buffer.from(fromPng.pixels as Uint8Array).equals(rgb)).toBe(true);
    const smooth = Buffer.from(Uint8Array.from({ length: 64 * 64 }, (_, i) => (i % 64) * 4));
    const jpeg = await sharp(smooth, { raw: { width: 64, height: 64, channels: 1 } })
      .jpeg({ quality: 95 })
      .toBuffer();
    const fromJpeg = await decodeImage(jpeg, LIMITS);
    expect(fromJpeg).toMatchObject({ format: 'jpeg', lossy: true });
    let max = 0;
    fromJpeg.pixels.forEach((v, i) => (max = Math.max(max, Math.abs(v - (smooth[i] ?? 0)))));
    expect(max).toBeLessThanOrEqual(8);
  });

  it('treats an RGB image whose channels are all equal as greyscale', async () => {
    const g = Buffer.from(Uint8Array.from({ length: 8 * 8 * 3 }, (_, i) => Math.floor(i / 3) * 4));
    const img = await decodeImage(
      await sharp(g, { raw: { width: 8, height: 8, channels: 3 } })
        .png()
        .toBuffer(),
      LIMITS,
    );
    expect(img).toMatchObject({ samplesPerPixel: 1, photometricInterpretation: 'MONOCHROME2' });
    expect(Array.from(img.pixels.subarray(0, 3))).toEqual([0, 4, 8]);
  });

  it('keeps an 8-bit greyscale PNG exact and single-channel', async () => {
    const grey = Buffer.from(Uint8Array.from({ length: 9 * 7 }, (_, i) => (i * 29) % 256));
    const png = await sharp(grey, { raw: { width: 9, height: 7, channels: 1 } })
      .toColourspace('b-w')
      .png()
      .toBuffer();
    expect(png[25], 'PNG colour type 0 (greyscale)').toBe(0);
    const img = await decodeImage(png, LIMITS);
    expect(img).toMatchObject({ samplesPerPixel: 1, bitsStored: 8, width: 9, height: 7 });
    expect(Array.from(img.pixels)).toEqual(Array.from(grey));
  });

  it('keeps an RGB image as colour when any one sample of any pixel differs, wherever it is', async () => {
    // 7 × 5 = 35 pixels: eight groups of four read as words, then a tail of three read singly.
    const width = 7;
    const height = 5;
    const grey = Uint8Array.from({ length: width * height }, (_, i) => (i * 37) % 251);
    const rgbOf = (tweak?: { pixel: number; channel: number }) => {
      const rgb = Buffer.alloc(width * height * 3);
      grey.forEach((v, i) => rgb.fill(v, 3 * i, 3 * i + 3));
      if (tweak) rgb[3 * tweak.pixel + tweak.channel]! ^= 0x10;
      return sharp(rgb, { raw: { width, height, channels: 3 } })
        .png()
        .toBuffer();
    };
    const equal = await decodeImage(await rgbOf(), LIMITS);
    expect(equal.samplesPerPixel).toBe(1);
    expect(Array.from(equal.pixels)).toEqual(Array.from(grey));
    for (let pixel = 0; pixel < width * height; pixel++) {
      for (const channel of [0, 1, 2]) {
        const img = await decodeImage(await rgbOf({ pixel, channel }), LIMITS);
        expect(img.samplesPerPixel, `pixel ${pixel}, channel ${channel}`).toBe(3);
      }
    }
  });

  it('refuses a truncated PNG body with a clear 422', async () => {
    const png = await sharp(new Uint16Array(grey16), { raw: { width, height, channels: 1 } })
      .toColourspace('grey16')
      .png()
      .toBuffer();
    const err = await decodeImage(png.subarray(0, 60), LIMITS).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ImagingError);
    expect(err).toMatchObject({ code: 'corrupt', status: 422 });
  });

  it('refuses an image over the pixel limit before decoding it', async () => {
    const big = await sharp({ create: { width: 2000, height: 1000, channels: 3, background: 'white' } })
      .png()
      .toBuffer();
    await expect(decodeImage(big, LIMITS)).rejects.toMatchObject({ code: 'too_large', status: 413 });
  });
});
