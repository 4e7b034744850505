import type { PixelArray } from './stored.ts';

/**
 * Colour conversions to RGB, PS3.3 C.7.6.3.1.2. All work in place on sample-interleaved data of one
 * frame, whose values lie in 0..2^bits-1.
 */

/** Planar configuration 1 (RRR…GGG…BBB…) to 0 (RGBRGB…), C.7.6.3.1.3. */
export function planarToInterleaved(frame: PixelArray, pixels: number): void {
  const copy = frame.slice(0, pixels * 3);
  for (let p = 0; p < pixels; p++) {
    frame[p * 3] = copy[p] ?? 0;
    frame[p * 3 + 1] = copy[pixels + p] ?? 0;
    frame[p * 3 + 2] = copy[2 * pixels + p] ?? 0;
  }
}

const clamp = (v: number, max: number): number => (v < 0 ? 0 : v > max ? max : Math.round(v));

/** YBR_FULL (and YBR_FULL_422 once expanded): full-range ITU-R BT.601 YCbCr, C.7.6.3.1.2. */
export function ybrFullToRgb(frame: PixelArray, pixels: number, bits: number): void {
  const max = 2 ** bits - 1;
  const half = 2 ** (bits - 1);
  for (let p = 0; p < pixels; p++) {
    const y = frame[p * 3] ?? 0;
    const cb = (frame[p * 3 + 1] ?? 0) - half;
    const cr = (frame[p * 3 + 2] ?? 0) - half;
    frame[p * 3] = clamp(y + 1.402 * cr, max);
    frame[p * 3 + 1] = clamp(y - 0.344136 * cb - 0.714136 * cr, max);
    frame[p * 3 + 2] = clamp(y + 1.772 * cb, max);
  }
}

/** YBR_PARTIAL_422/420: studio-range YCbCr (Y 16-235, C 16-240 at 8 bits), C.7.6.3.1.2. */
export function ybrPartialToRgb(frame: PixelArray, pixels: number, bits: number): void {
  const max = 2 ** bits - 1;
  const scale = 2 ** (bits - 8);
  for (let p = 0; p < pixels; p++) {
    const y = (frame[p * 3] ?? 0) / scale - 16;
    const cb = (frame[p * 3 + 1] ?? 0) / scale - 128;
    const cr = (frame[p * 3 + 2] ?? 0) / scale - 128;
    frame[p * 3] = clamp((1.1644 * y + 1.596 * cr) * scale, max);
    frame[p * 3 + 1] = clamp((1.1644 * y - 0.3918 * cb - 0.813 * cr) * scale, max);
    frame[p * 3 + 2] = clamp((1.1644 * y + 2.0172 * cb) * scale, max);
  }
}

/**
 * Native YBR_FULL_422 stores two luminance samples then one Cb and one Cr per horizontal pair
 * (Y1 Y2 Cb Cr, C.7.6.3.1.2). Expands `src` (2 samples per pixel) to three interleaved samples.
 */
export function expand422(src: PixelArray, rows: number, columns: number, out: PixelArray, outOffset: number): void {
  let i = 0;
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < columns; c += 2) {
      const y1 = src[i] ?? 0;
      const y2 = src[i + 1] ?? 0;
      const cb = src[i + 2] ?? 0;
      const cr = src[i + 3] ?? 0;
      i += 4;
      const o = outOffset + (r * columns + c) * 3;
      out[o] = y1;
      out[o + 1] = cb;
      out[o + 2] = cr;
      if (c + 1 < columns) {
        out[o + 3] = y2;
        out[o + 4] = cb;
        out[o + 5] = cr;
      }
    }
  }
}
