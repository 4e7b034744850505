import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { decodeImage } from './decode.ts';
import type { DecodedImage } from './image.ts';
import { automaticWindow, displayPixels, renderDisplayPng } from './render.ts';
import { hasPydicomFiles, readPydicom } from './testing/fixtures.ts';

const LIMITS = { maxPixels: 20_000_000, maxDimension: 8192 };

function grey(values: number[], width: number, extra: Partial<DecodedImage> = {}): DecodedImage {
  return {
    format: 'dicom',
    mediaType: 'application/dicom',
    width,
    height: values.length / width,
    frames: 1,
    samplesPerPixel: 1,
    pixels: Int32Array.from(values),
    photometricInterpretation: 'MONOCHROME2',
    sourcePhotometricInterpretation: 'MONOCHROME2',
    invertForDisplay: false,
    bitsAllocated: 16,
    bitsStored: 16,
    signed: true,
    modality: [{ slope: 1, intercept: 0 }],
    voi: [{ windows: [], function: 'LINEAR' }],
    lossy: false,
    ...extra,
  };
}

describe('display rendition', () => {
  it('applies the LINEAR window of PS3.3 C.11.2.1.2.1', () => {
    // Centre 40, width 400 (a CT soft-tissue window): -160 and below black, 240 and above white.
    const img = grey([-1000, -160, 40, 239, 240, 3000], 6, {
      voi: [{ windows: [{ center: 40, width: 400 }], function: 'LINEAR' }],
    });
    const { data, windowSource } = displayPixels(img);
    expect(windowSource).toBe('file');
    expect(Array.from(data)).toEqual([0, 0, 128, 255, 255, 255]);
  });

  it('lets the caller override the window, and inverts MONOCHROME1 after windowing', () => {
    const img = grey([0, 50, 100], 3, { invertForDisplay: true, photometricInterpretation: 'MONOCHROME1' });
    const { data, windowSource } = displayPixels(img, { windowCenter: 50.5, windowWidth: 101 });
    expect(windowSource).toBe('request');
    expect(Array.from(data)).toEqual([255, 127, 0]); // 50 maps to 127.5, rounded to 128, inverted
  });

  it('applies a VOI LUT when the file has one and no window', () => {
    const img = grey([0, 1, 2, 3], 4, {
      voi: [
        {
          windows: [],
          function: 'LINEAR',
          lut: { firstMapped: 0, bits: 8, data: Uint16Array.from([255, 170, 85, 0]) },
        },
      ],
    });
    expect(Array.from(displayPixels(img).data)).toEqual([255, 170, 85, 0]);
  });

  it('chooses a robust automatic window that ignores outliers', () => {
    const values = Array.from({ length: 1000 }, (_, i) => (i < 5 ? -30000 : i > 994 ? 30000 : 100 + (i % 100)));
    const w = automaticWindow(values, 0, values.length);
    expect(w.center).toBeGreaterThan(100);
    expect(w.center).toBeLessThan(200);
    expect(w.width).toBeLessThan(120);
  });

  it('refuses a frame that does not exist', () => {
    expect(() => displayPixels(grey([1, 2], 2), { frame: 3 })).toThrow(/Frame 3 does not exist/);
  });

  it('renders 8-bit PNGs at full size and as thumbnails', async () => {
    const values = Array.from({ length: 64 * 48 }, (_, i) => i % 4096);
    const img = grey(values, 64);
    const full = await renderDisplayPng(img);
    expect(full).toMatchObject({ width: 64, height: 48, windowSource: 'automatic' });
    const meta = await sharp(full.png).metadata();
    expect(meta).toMatchObject({ format: 'png', width: 64, height: 48, depth: 'uchar', channels: 1 });
    const thumb = await renderDisplayPng(img, { maxSize: 16 });
    expect([thumb.width, thumb.height]).toEqual([16, 12]);
  });

  it.skipIf(!hasPydicomFiles)('renders MR with its own window and colour as RGB', async () => {
    const mr = await decodeImage(readPydicom('MR_small.dcm'), LIMITS);
    expect(await renderDisplayPng(mr)).toMatchObject({ window: { center: 600, width: 1600 }, windowSource: 'file' });
    const rgb = await decodeImage(readPydicom('SC_rgb_rle_16bit.dcm'), LIMITS);
    const rendition = await renderDisplayPng(rgb);
    const { data, info } = await sharp(rendition.png).raw().toBuffer({ resolveWithObject: true });
    expect(info.channels).toBe(3);
    expect(Array.from(data.subarray((5 * 100 + 50) * 3, (5 * 100 + 50) * 3 + 3))).toEqual([255, 0, 0]);
  });
});
