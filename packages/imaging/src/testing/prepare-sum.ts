/** A preparation for the decode pool's tests: each row's pixel sum, times `scale`. */
import type { DecodedImage } from '../image.ts';

export function sumRows(image: DecodedImage, options: { scale: number }): { sums: Float64Array; scale: number } {
  if (options.scale < 0) throw new Error('negative scale');
  const sums = new Float64Array(image.height);
  for (let y = 0; y < image.height; y++) {
    for (let x = 0; x < image.width; x++) sums[y] = sums[y]! + (image.pixels[y * image.width + x] ?? 0) * options.scale;
  }
  return { sums, scale: options.scale };
}

/**
 * An opening for the decode pool's tests, standing in for decryption: every byte XORed with
 * `key`, into new memory (as a decipher gives). Refuses a file that does not start with "XOR1".
 */
export function unXor(bytes: Uint8Array, options: { key: number }): Uint8Array {
  if (String.fromCharCode(...bytes.subarray(0, 4)) !== 'XOR1') throw new Error('not an XOR1 file');
  return bytes.subarray(4).map((b) => b ^ options.key);
}
