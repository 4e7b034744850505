import { describe, expect, it } from 'vitest';
import { jpegColourSpace } from './jpeg-colour.ts';

const SOI = [0xff, 0xd8];
const seg = (marker: number, data: number[]): number[] => [
  0xff,
  marker,
  (data.length + 2) >> 8,
  (data.length + 2) & 0xff,
  ...data,
];
const sof = (ids: [number, number, number]): number[] =>
  seg(0xc0, [8, 0, 16, 0, 16, 3, ids[0], 0x11, 0, ids[1], 0x11, 1, ids[2], 0x11, 1]);
const adobe = (transform: number): number[] =>
  seg(0xee, [...'Adobe'].map((c) => c.charCodeAt(0)).concat([0, 100, 0, 0, 0, 0, transform]));
const jfif = seg(0xe0, [...'JFIF'].map((c) => c.charCodeAt(0)).concat([0, 1, 2, 0, 0, 1, 0, 1, 0, 0]));
const jpeg = (...parts: number[][]): Uint8Array => Uint8Array.from([...SOI, ...parts.flat()]);

describe('jpegColourSpace', () => {
  it('trusts an Adobe APP14 transform flag first', () => {
    expect(jpegColourSpace(jpeg(adobe(0), sof([1, 2, 3])))).toBe('rgb');
    expect(jpegColourSpace(jpeg(adobe(1), sof([0x52, 0x47, 0x42])))).toBe('ycbcr');
  });

  it('treats JFIF as YCbCr', () => {
    expect(jpegColourSpace(jpeg(jfif, sof([0, 1, 2])))).toBe('ycbcr');
  });

  it('reads component identifiers, else defers to the DICOM header', () => {
    expect(jpegColourSpace(jpeg(sof([0x52, 0x47, 0x42])))).toBe('rgb');
    expect(jpegColourSpace(jpeg(sof([1, 2, 3])))).toBe('ycbcr');
    expect(jpegColourSpace(jpeg(sof([0, 1, 2])))).toBe('unknown');
    expect(jpegColourSpace(jpeg(adobe(219), sof([0, 1, 2])))).toBe('unknown');
    expect(jpegColourSpace(Uint8Array.from([0xff, 0xd8, 0xff]))).toBe('unknown');
  });
});
