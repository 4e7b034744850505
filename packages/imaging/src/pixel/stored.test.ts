import { describe, expect, it } from 'vitest';
import { allocateStored, readStored } from './stored.ts';

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
