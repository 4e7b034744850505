import { tooLarge } from './errors.ts';

export interface ProbeLimits {
  /** Cap on width × height × frames. */
  maxPixels: number;
  /** Cap on width and on height. */
  maxDimension: number;
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
