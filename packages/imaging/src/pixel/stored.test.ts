import { describe, expect, it } from 'vitest';
import { allocateStored, readStored, readStoredInPlace } from './stored.ts';

/** Little-endian 16-bit words, optionally starting at an odd byte of their buffer. */
function words(values: number[], odd = false): Uint8Array {
  const bytes = new Uint8Array(values.length * 2 + (odd ? 1 : 0)).subarray(odd ? 1 : 0);
  values.forEach((v, i) => {
    bytes[2 * i] = v & 0xff;
    bytes[2 * i + 1] = v >> 8;
  });
  return bytes;
}

describe('readStored, 16-bit little endian', () => {
  const raw = [0x0fff, 0xf123, 0x8000, 0x0800, 0x7abc];

  for (const odd of [false, true]) {
    it(`masks bits above Bits Stored (overlay bits) ${odd ? 'from an odd byte offset' : 'in place'}`, () => {
      const layout = { bitsAllocated: 16, bitsStored: 12, highBit: 11, signed: false };
      const out = allocateStored(raw.length + 1, layout);
      readStored(words(raw, odd), true, layout, raw.length, out, 1);
      expect(Array.from(out)).toEqual([0, 0x0fff, 0x0123, 0x0000, 0x0800, 0x0abc]);
    });
  }

  it('masks every word whatever the length and the 4-byte alignment of source and target', () => {
    const layout = { bitsAllocated: 16, bitsStored: 12, highBit: 11, signed: false };
    for (let count = 1; count <= 11; count++) {
      const values = Array.from({ length: count }, (_, i) => (i * 0x9e37 + 0xf000) & 0xffff);
      for (const sourceShift of [0, 2, 4]) {
        const bytes = new Uint8Array(count * 2 + sourceShift).subarray(sourceShift);
        bytes.set(words(values));
        for (const outOffset of [0, 1, 2]) {
          const out = allocateStored(count + outOffset, layout);
          readStored(bytes, true, layout, count, out, outOffset);
          expect(Array.from(out.subarray(outOffset))).toEqual(values.map((v) => v & 0x0fff));
          expect(Array.from(out.subarray(0, outOffset))).toEqual(new Array<number>(outOffset).fill(0));
        }
      }
    }
  });

  it('shifts by High Bit and sign-extends signed values', () => {
    const layout = { bitsAllocated: 16, bitsStored: 12, highBit: 13, signed: true };
    const out = allocateStored(raw.length, layout);
    readStored(words(raw), true, layout, raw.length, out, 0);
    const expected = raw.map((v) => {
      const u = (v >> 2) & 0xfff;
      return u & 0x800 ? u - 0x1000 : u;
    });
    expect(Array.from(out)).toEqual(expected);
  });

  it('reads big endian words the same way', () => {
    const layout = { bitsAllocated: 16, bitsStored: 12, highBit: 11, signed: false };
    const swapped = words(raw.map((v) => ((v & 0xff) << 8) | (v >> 8)));
    const out = allocateStored(raw.length, layout);
    readStored(swapped, false, layout, raw.length, out, 0);
    expect(Array.from(out)).toEqual([0x0fff, 0x0123, 0x0000, 0x0800, 0x0abc]);
  });
});

describe('readStoredInPlace (bytes handed over)', () => {
  const layouts = [
    { bitsAllocated: 16, bitsStored: 12, highBit: 11, signed: false },
    { bitsAllocated: 16, bitsStored: 16, highBit: 15, signed: false },
    { bitsAllocated: 16, bitsStored: 12, highBit: 13, signed: false },
    { bitsAllocated: 16, bitsStored: 12, highBit: 13, signed: true },
    { bitsAllocated: 16, bitsStored: 16, highBit: 15, signed: true },
    { bitsAllocated: 8, bitsStored: 8, highBit: 7, signed: false },
    { bitsAllocated: 8, bitsStored: 8, highBit: 7, signed: true },
  ];

  it('gives what the copying read gives, as a view of the same memory, whatever the length and alignment', () => {
    for (const layout of layouts) {
      const size = layout.bitsAllocated / 8;
      for (let count = 1; count <= 11; count++) {
        const values = Array.from({ length: count }, (_, i) => (i * 0x9e37 + 0xf0a5) & (size === 2 ? 0xffff : 0xff));
        for (const shift of [0, 2, 4, 6]) {
          const bytes = new Uint8Array(count * size + shift + 3).subarray(shift, shift + count * size + 3);
          if (size === 2) bytes.set(words(values));
          else bytes.set(values);
          const expected = allocateStored(count, layout);
          readStored(bytes, true, layout, count, expected, 0);
          const inPlace = readStoredInPlace(bytes, true, layout, count);
          expect(inPlace, JSON.stringify({ layout, count, shift })).not.toBeNull();
          expect(inPlace!.constructor).toBe(expected.constructor);
          expect(Array.from(inPlace!), JSON.stringify({ layout, count, shift })).toEqual(Array.from(expected));
          expect(inPlace!.buffer).toBe(bytes.buffer);
        }
      }
    }
  });

  it('declines where a copy is needed: big-endian or odd-offset words, other depths, too few bytes', () => {
    const twelve = { bitsAllocated: 16, bitsStored: 12, highBit: 11, signed: false };
    expect(readStoredInPlace(words([1, 2]), false, twelve, 2)).toBeNull();
    expect(readStoredInPlace(words([1, 2], true), true, twelve, 2)).toBeNull();
    expect(readStoredInPlace(words([1]), true, twelve, 2)).toBeNull();
    expect(
      readStoredInPlace(new Uint8Array(8), true, { ...twelve, bitsAllocated: 32, bitsStored: 32, highBit: 31 }, 2),
    ).toBeNull();
    expect(
      readStoredInPlace(new Uint8Array(8), true, { bitsAllocated: 8, bitsStored: 6, highBit: 5, signed: false }, 8),
    ).toBeNull();
  });
});
