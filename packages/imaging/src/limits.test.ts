import { describe, expect, it } from 'vitest';
import { ImagingError } from './errors.ts';
import { checkDimensions, inflateCap } from './limits.ts';

const MiB = 1024 * 1024;

describe('limits', () => {
  it('caps inflation by pixels, by 1 GiB and by 256 times the file size', () => {
    expect(inflateCap({ maxPixels: 1000, maxDimension: 100 }, 10 * MiB)).toBe(12_000 + 16 * MiB);
    expect(inflateCap({ maxPixels: 1e9, maxDimension: 1e5 }, 1000)).toBe(256_000 + 16 * MiB);
    expect(inflateCap({ maxPixels: 1e9, maxDimension: 1e5 }, 100 * MiB)).toBe(1024 * MiB);
    expect(inflateCap({ maxPixels: 1, maxDimension: 1, maxInflatedBytes: 5 }, 1)).toBe(5);
  });

  it('refuses a side over maxDimension and a total over maxPixels with 413', () => {
    expect(() => checkDimensions(10, 10, 1, { maxPixels: 100, maxDimension: 10 })).not.toThrow();
    expect(() => checkDimensions(11, 1, 1, { maxPixels: 100, maxDimension: 10 })).toThrow(ImagingError);
    try {
      checkDimensions(10, 10, 2, { maxPixels: 100, maxDimension: 10 });
    } catch (err) {
      expect(err).toMatchObject({
        code: 'too_large',
        status: 413,
        message: 'The image has 10×10×2 = 200 pixels; at most 100 are accepted.',
      });
    }
  });
});
