import { describe, expect, it } from 'vitest';
import { clampedBlockSums, kernelModule } from './clamped-block-sums.ts';
import type { UnsignedPixels } from './clamped-block-sums.ts';

/** The definition, pixel by pixel. */
function bruteForce(p: UnsignedPixels, width: number, height: number, fx: number, fy: number, lo: number, hi: number) {
  const out: number[] = [];
  for (let oy = 0; oy < height / fy; oy++)
    for (let ox = 0; ox < width / fx; ox++) {
      let sum = 0;
      let low = 0;
      let high = 0;
      for (let y = oy * fy; y < (oy + 1) * fy; y++)
        for (let x = ox * fx; x < (ox + 1) * fx; x++) {
          const v = p[y * width + x]!;
          sum += Math.min(Math.max(v, lo), hi);
          if (v <= lo) low++;
          if (v >= hi) high++;
        }
      out.push(sum, low, high);
    }
  return out;
}

const noise = (n: number, max: number) => Array.from({ length: n }, (_, i) => ((i * 2654435761) >>> 7) % (max + 1));

describe('clampedBlockSums (WebAssembly SIMD)', () => {
  it('is a valid module in this engine (Node has WebAssembly SIMD)', () => {
    expect(WebAssembly.validate(kernelModule())).toBe(true);
  });

  it('gives the exact clamped sums and counts of 16-bit blocks, extremes included', () => {
    const [width, height] = [64, 48];
    const values = noise(width * height, 65535);
    values[0] = 0;
    values[1] = 65535;
    const p = Uint16Array.from(values);
    for (const [fx, fy, lo, hi] of [
      [16, 16, 1000, 60000],
      [8, 3, 0, 65535],
      [32, 48, 30000, 30001],
      [64, 1, 12345, 23456],
    ] as const) {
      expect(Array.from(clampedBlockSums(p, width, height, fx, fy, lo, hi)!)).toEqual(
        bruteForce(p, width, height, fx, fy, lo, hi),
      );
    }
  });

  it('does the same for 8-bit pixels, and for arrays that start inside their buffer', () => {
    const [width, height] = [40, 24];
    const p = new Uint8Array(width * height + 3).subarray(3);
    p.set(noise(width * height, 255));
    expect(Array.from(clampedBlockSums(p, width, height, 8, 4, 17, 200)!)).toEqual(
      bruteForce(p, width, height, 8, 4, 17, 200),
    );
    const q = new Uint16Array(width * height + 1).subarray(1);
    q.set(noise(width * height, 4095));
    expect(Array.from(clampedBlockSums(q, width, height, 8, 8, 100, 4000)!)).toEqual(
      bruteForce(q, width, height, 8, 8, 100, 4000),
    );
  });

  it('is exact for every block width: steps written out (up to eight) and looped (wider)', () => {
    const [width, height] = [144, 6];
    const wide = Uint16Array.from(noise(width * height, 65535));
    const narrow = Uint8Array.from(noise(width * height, 255));
    for (const fx of [8, 16, 24, 48, 72, 144]) {
      expect(Array.from(clampedBlockSums(wide, width, height, fx, 3, 5000, 50000)!), `16-bit fx ${fx}`).toEqual(
        bruteForce(wide, width, height, fx, 3, 5000, 50000),
      );
      expect(Array.from(clampedBlockSums(narrow, width, height, fx, 2, 30, 220)!), `8-bit fx ${fx}`).toEqual(
        bruteForce(narrow, width, height, fx, 2, 30, 220),
      );
    }
    for (const unrolled of [1, 2, 8]) {
      for (const [low, high] of [
        [true, true],
        [true, false],
        [false, true],
        [false, false],
      ] as const) {
        expect(WebAssembly.validate(kernelModule({ unrolled, low, high }))).toBe(true);
      }
    }
  });

  it('takes only the counts asked for (the others read 0), with the same sums', () => {
    const [width, height] = [48, 8];
    const p = Uint16Array.from(noise(width * height, 4095));
    const all = bruteForce(p, width, height, 16, 4, 800, 3000);
    for (const [low, high] of [
      [true, false],
      [false, true],
      [false, false],
    ] as const) {
      const expected = all.map((v, i) => ((i % 3 === 1 && !low) || (i % 3 === 2 && !high) ? 0 : v));
      expect(Array.from(clampedBlockSums(p, width, height, 16, 4, 800, 3000, { low, high })!)).toEqual(expected);
    }
  });

  it('declines what it cannot do exactly, so the caller takes its JavaScript path', () => {
    const p = new Uint16Array(64 * 64);
    expect(clampedBlockSums(p, 64, 64, 4, 4, 0, 100)).toBeUndefined(); // fx not a multiple of 8
    expect(clampedBlockSums(p, 64, 64, 8, 8, -1, 100)).toBeUndefined(); // below the pixel type
    expect(clampedBlockSums(new Uint8Array(64 * 64), 64, 64, 8, 8, 0, 256)).toBeUndefined();
    expect(clampedBlockSums(p, 64, 64, 8, 8, 5.5, 100)).toBeUndefined(); // not integers
    expect(clampedBlockSums(p, 64, 64, 8, 8, 100, 5)).toBeUndefined();
    expect(clampedBlockSums(p, 64, 64, 8, 8, 100, 100)).toBeUndefined(); // lo < hi is what the kernel relies on
  });
});
