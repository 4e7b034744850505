import { corrupt } from '../errors.ts';

/**
 * RLE Lossless decoding, PS3.5 annex G. A frame is a 64-byte header (segment count and up to 15
 * offsets, G.5) followed by PackBits-style segments (G.3.1), one per byte of each sample, most
 * significant byte first. Output is little-endian, sample-interleaved (planar configuration 0).
 */
export function decodeRleFrame(
  encoded: Uint8Array,
  rows: number,
  columns: number,
  samplesPerPixel: number,
  bitsAllocated: number,
): Uint8Array {
  const pixels = rows * columns;
  const bytesPerSample = bitsAllocated / 8;
  if (!Number.isInteger(bytesPerSample))
    throw corrupt(`RLE pixel data with ${bitsAllocated} bits allocated is not valid.`);
  const segmentCount = samplesPerPixel * bytesPerSample;
  if (encoded.length < 64) throw corrupt('The RLE frame is truncated: its 64-byte header is incomplete.');
  const view = new DataView(encoded.buffer, encoded.byteOffset, encoded.byteLength);
  const declared = view.getUint32(0, true);
  if (declared !== segmentCount) {
    throw corrupt(`The RLE frame has ${declared} segments; ${segmentCount} are needed for this image (PS3.5 G.5).`);
  }
  const offsets: number[] = [];
  for (let i = 0; i < segmentCount; i++) offsets.push(view.getUint32(4 + i * 4, true));
  const out = new Uint8Array(pixels * segmentCount);
  const segment = new Uint8Array(pixels);
  for (let s = 0; s < segmentCount; s++) {
    const start = offsets[s] ?? 0;
    const end = s + 1 < segmentCount ? (offsets[s + 1] ?? 0) : encoded.length;
    if (start < 64 || end > encoded.length || end < start)
      throw corrupt('The RLE frame has an invalid segment offset.');
    unpackBits(encoded, start, end, segment);
    // Segment order: sample by sample, most significant byte first (G.2).
    const sample = Math.floor(s / bytesPerSample);
    const byteInSample = bytesPerSample - 1 - (s % bytesPerSample);
    const stride = samplesPerPixel * bytesPerSample;
    const base = sample * bytesPerSample + byteInSample;
    for (let p = 0; p < pixels; p++) out[p * stride + base] = segment[p] ?? 0;
  }
  return out;
}

/** PackBits (G.3.1): n in 0..127 copies n+1 literal bytes, -127..-1 repeats the next byte 1-n times, -128 is a no-op. */
function unpackBits(src: Uint8Array, start: number, end: number, out: Uint8Array): void {
  let i = start;
  let o = 0;
  while (i < end && o < out.length) {
    const n = src[i++] ?? 0;
    if (n < 128) {
      const count = n + 1;
      if (i + count > end) throw corrupt('The RLE segment is truncated.');
      const take = Math.min(count, out.length - o);
      out.set(src.subarray(i, i + take), o);
      o += take;
      i += count;
    } else if (n > 128) {
      if (i >= end) throw corrupt('The RLE segment is truncated.');
      const value = src[i++] ?? 0;
      const count = Math.min(257 - n, out.length - o);
      out.fill(value, o, o + count);
      o += count;
    }
  }
  if (o < out.length) throw corrupt('The RLE segment decodes to fewer pixels than the image needs.');
}
