import { tooLarge } from './errors.ts';

export interface ProbeLimits {
  /** Cap on width × height × frames. */
  maxPixels: number;
  /** Cap on width and on height. */
  maxDimension: number;
  /** Cap on bytes produced by inflating a deflated DICOM data set; default from `inflateCap`. */
  maxInflatedBytes?: number;
  /**
   * Wall-clock budget for decoding, checked between frames (a single frame's codec call cannot be
   * interrupted in-process; run decoding in a worker thread for a hard stop).
   */
  maxMillis?: number;
}

const MiB = 1024 * 1024;

/**
 * Deflate bomb cap: room for every pixel at 4 bytes × 3 samples plus headers, at most 1 GiB, and
 * at most 256 times the file's own size (real images deflate far less than that; bombs far more).
 */
export function inflateCap(limits: ProbeLimits, fileBytes: number): number {
  if (limits.maxInflatedBytes !== undefined) return limits.maxInflatedBytes;
  return Math.min(1024 * MiB, limits.maxPixels * 12 + 16 * MiB, fileBytes * 256 + 16 * MiB);
}
/** Refuses decompression bombs before any pixel is decoded. */
export function checkDimensions(width: number, height: number, frames: number, limits: ProbeLimits): void {
  if (width > limits.maxDimension || height > limits.maxDimension) {
    throw tooLarge(
      `The image is ${width}×${height} pixels; the largest accepted side is ${limits.maxDimension} pixels.`,
    );
  }
  const pixels = width * height * frames;
  if (pixels > limits.maxPixels) {
    throw tooLarge(
      `The image has ${width}×${height}×${frames} = ${pixels} pixels; at most ${limits.maxPixels} are accepted.`,
    );
  }
}
