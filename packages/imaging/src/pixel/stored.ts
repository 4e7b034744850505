import { corrupt } from '../errors.ts';

export type PixelArray = Uint8Array | Int8Array | Uint16Array | Int16Array | Uint32Array | Int32Array | Float32Array;

/** How stored values sit in their allocated bits, PS3.5 section 8.1.1 and PS3.3 C.7.6.3.1. */
export interface StoredLayout {
  bitsAllocated: number;
  bitsStored: number;
  highBit: number;
  signed: boolean;
}

/** The narrowest typed array that holds every stored value of this layout. */
export function allocateStored(length: number, layout: StoredLayout): PixelArray {
  if (layout.bitsAllocated <= 8) return layout.signed ? new Int8Array(length) : new Uint8Array(length);
  if (layout.bitsAllocated <= 16) return layout.signed ? new Int16Array(length) : new Uint16Array(length);
  return layout.signed ? new Int32Array(length) : new Uint32Array(length);
}

/**
 * Reads `count` stored values from `src` into `out` at `outOffset`: bytes in the given order,
 * masked to Bits Stored below High Bit, and sign-extended when Pixel Representation is 1.
 * Big endian input is byte-swapped here (PS3.5 A.3: explicit VR big endian pixel words).
 */
export function readStored(
  src: Uint8Array,
  littleEndian: boolean,
  layout: StoredLayout,
  count: number,
  out: PixelArray,
  outOffset: number,
): void {
  const { bitsAllocated, bitsStored, highBit, signed } = layout;
  const bytes = bitsAllocated / 8;
  if (src.length < count * bytes) {
    throw corrupt(`The pixel data is truncated: ${src.length} bytes where ${count * bytes} are needed.`);
  }
  const shift = highBit + 1 - bitsStored;
  const view = new DataView(src.buffer, src.byteOffset, src.byteLength);
  const plainBytes = bitsStored === bitsAllocated && shift === 0;
  if (bitsAllocated === 8) {
    const mask = (1 << bitsStored) - 1;
    const sign = 1 << (bitsStored - 1);
    for (let i = 0; i < count; i++) {
      let v = ((src[i] ?? 0) >> shift) & mask;
      if (signed && v & sign) v -= 1 << bitsStored;
      out[outOffset + i] = v;
    }
    return;
  }
  if (bitsAllocated === 16) {
    if (plainBytes && littleEndian && out instanceof (signed ? Int16Array : Uint16Array) && src.byteOffset % 2 === 0) {
      out.set(
        signed ? new Int16Array(src.buffer, src.byteOffset, count) : new Uint16Array(src.buffer, src.byteOffset, count),
        outOffset,
      );
      return;
    }
    if (littleEndian && HOST_LITTLE_ENDIAN) {
      readWords16(src, count, shift, bitsStored, signed, out, outOffset);
      return;
    }
    const mask = (1 << bitsStored) - 1;
    const sign = 1 << (bitsStored - 1);
    for (let i = 0; i < count; i++) {
      let v = (view.getUint16(i * 2, littleEndian) >> shift) & mask;
      if (signed && v & sign) v -= 1 << bitsStored;
      out[outOffset + i] = v;
    }
    return;
  }
  if (bitsAllocated === 32) {
    const full = bitsStored === 32;
    for (let i = 0; i < count; i++) {
      const raw = view.getUint32(i * 4, littleEndian);
      let v = full ? raw : Math.floor(raw / 2 ** shift) % 2 ** bitsStored;
      if (signed && v >= 2 ** (bitsStored - 1)) v -= 2 ** bitsStored;
      out[outOffset + i] = v;
    }
    return;
  }
  throw corrupt(`Bits Allocated ${bitsAllocated} is not supported for this pixel data.`);
}

const HOST_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/**
 * Little-endian 16-bit words with Bits Stored < 16 or a shifted High Bit (12-bit radiographs):
 * the words viewed as a Uint16Array (copied once to align them when the value starts at an odd
 * byte), then masked and sign-extended in a typed-array loop. The per-sample DataView read it
 * replaces was most of a 2048² decode.
 */
function readWords16(
  src: Uint8Array,
  count: number,
  shift: number,
  bitsStored: number,
  signed: boolean,
  out: PixelArray,
  outOffset: number,
): void {
  const aligned = src.byteOffset % 2 === 0 ? src : src.slice(0, count * 2);
  const words = new Uint16Array(aligned.buffer, aligned.byteOffset, count);
  const mask = (1 << bitsStored) - 1;
  if (!signed && out instanceof Uint16Array) {
    const target = out.subarray(outOffset, outOffset + count);
    if (shift === 0) {
      if (!copyMasked(words, target, mask)) {
        // In place (readStoredInPlace), the words are already where they belong.
        if (target.byteOffset !== words.byteOffset || target.buffer !== words.buffer) target.set(words);
        maskInPlace(target, mask);
      }
    } else {
      for (let i = 0; i < count; i++) target[i] = (words[i]! >> shift) & mask;
    }
    return;
  }
  const sign = 1 << (bitsStored - 1);
  const wrap = 1 << bitsStored;
  for (let i = 0; i < count; i++) {
    let v = (words[i]! >> shift) & mask;
    if (signed && v & sign) v -= wrap;
    out[outOffset + i] = v;
  }
}

/**
 * target = words & mask in one pass, two words at a time through Int32Array views, four of those
 * per step: reads the 8 MB of a 2048² frame once instead of copying it and then masking the copy
 * (about 20 % less time). False, doing nothing, unless both are 4-byte aligned.
 */
function copyMasked(words: Uint16Array, target: Uint16Array, mask: number): boolean {
  if (words.byteOffset % 4 !== 0 || target.byteOffset % 4 !== 0) return false;
  const pairs = words.length >> 1;
  const both = mask | (mask << 16);
  const from = new Int32Array(words.buffer, words.byteOffset, pairs);
  const to = new Int32Array(target.buffer, target.byteOffset, pairs);
  const unrolled = pairs - (pairs % 4);
  let i = 0;
  for (; i < unrolled; i += 4) {
    to[i] = from[i]! & both;
    to[i + 1] = from[i + 1]! & both;
    to[i + 2] = from[i + 2]! & both;
    to[i + 3] = from[i + 3]! & both;
  }
  for (; i < pairs; i++) to[i] = from[i]! & both;
  for (let w = pairs * 2; w < words.length; w++) target[w] = words[w]! & mask;
  return true;
}

/**
 * Clears the bits above Bits Stored (they may carry overlay planes, PS3.5 8.1.1), two words at a
 * time through an Int32Array view, four of those per step, after one word when the array starts
 * 2 bytes past a 4-byte boundary (pixel data in a file usually does): 3 ms for a 2048² frame where
 * a word at a time took 9.
 */
function maskInPlace(values: Uint16Array, mask: number): void {
  let start = 0;
  if (values.byteOffset % 4 !== 0 && values.length > 0) {
    values[0] = values[0]! & mask;
    start = 1;
  }
  const pairs = (values.length - start) >> 1;
  const both = mask | (mask << 16);
  const view = new Int32Array(values.buffer, values.byteOffset + start * 2, pairs);
  const unrolled = pairs - (pairs % 4);
  let i = 0;
  for (; i < unrolled; i += 4) {
    view[i] = view[i]! & both;
    view[i + 1] = view[i + 1]! & both;
    view[i + 2] = view[i + 2]! & both;
    view[i + 3] = view[i + 3]! & both;
  }
  for (; i < pairs; i++) view[i] = view[i]! & both;
  for (let w = start + pairs * 2; w < values.length; w++) values[w] = values[w]! & mask;
}

/**
 * The stored values read where they lie, for bytes the caller has handed over (decodeImage's
 * `consumeBytes`): a view of `src` itself, masked and sign-extended in place. Null where a copy
 * is needed instead: big-endian words, 16-bit words at an odd byte offset, other bit depths, or
 * too few bytes (the copying path reports that).
 */
export function readStoredInPlace(
  src: Uint8Array,
  littleEndian: boolean,
  layout: StoredLayout,
  count: number,
): PixelArray | null {
  const { bitsAllocated, bitsStored, highBit, signed } = layout;
  const shift = highBit + 1 - bitsStored;
  if (!littleEndian || !HOST_LITTLE_ENDIAN) return null;
  if (bitsAllocated === 8) {
    if (bitsStored !== 8 || shift !== 0 || src.length < count) return null;
    return signed
      ? new Int8Array(src.buffer, src.byteOffset, count)
      : new Uint8Array(src.buffer, src.byteOffset, count);
  }
  if (bitsAllocated !== 16 || src.byteOffset % 2 !== 0 || src.length < count * 2) return null;
  const values = signed
    ? new Int16Array(src.buffer, src.byteOffset, count)
    : new Uint16Array(src.buffer, src.byteOffset, count);
  // readWords16 reads each word before it writes that slot, so its output may be its input.
  if (bitsStored !== 16 || shift !== 0) readWords16(src, count, shift, bitsStored, signed, values, 0);
  return values;
}

/** Single-bit pixels (e.g. segmentations), packed least significant bit first (PS3.5 8.1.1, D.1). */
export function readBits(src: Uint8Array, bitOffset: number, count: number, out: Uint8Array, outOffset: number): void {
  if (Math.ceil((bitOffset + count) / 8) > src.length) throw corrupt('The 1-bit pixel data is truncated.');
  for (let i = 0; i < count; i++) {
    const bit = bitOffset + i;
    out[outOffset + i] = ((src[bit >> 3] ?? 0) >> (bit & 7)) & 1;
  }
}
