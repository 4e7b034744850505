import { describe, expect, it } from 'vitest';
import { sniffFormat } from './sniff.ts';
import { concat, encodeExplicit, imageDataset, part10, text } from './testing/dicom-writer.ts';

const bytes = (...b: number[]): Uint8Array => new Uint8Array(b);

describe('sniffFormat', () => {
  it('recognises the raster signatures', () => {
    expect(sniffFormat(bytes(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0))).toBe('png');
    expect(sniffFormat(bytes(0xff, 0xd8, 0xff, 0xe0))).toBe('jpeg');
    expect(sniffFormat(bytes(0x49, 0x49, 0x2a, 0x00, 8, 0, 0, 0))).toBe('tiff');
    expect(sniffFormat(bytes(0x4d, 0x4d, 0x00, 0x2a, 0, 0, 0, 8))).toBe('tiff');
  });

  it('recognises DICOM by DICM at 128, even when the preamble holds a TIFF header', () => {
    const file = part10(imageDataset({ rows: 2, columns: 2 }));
    expect(sniffFormat(file)).toBe('dicom');
    file.set([0x49, 0x49, 0x2a, 0x00], 0);
    expect(sniffFormat(file)).toBe('dicom');
  });

  it('recognises a bare explicit VR little endian data set', () => {
    expect(sniffFormat(imageDataset({ rows: 2, columns: 2 }))).toBe('dicom');
  });

  it('recognises a bare implicit VR little endian data set', () => {
    // (0008,0005) length 10 'ISO_IR 100', then (0008,0016) length 2.
    const ds = bytes(
      8,
      0,
      5,
      0,
      10,
      0,
      0,
      0,
      ...[...'ISO_IR 100'].map((c) => c.charCodeAt(0)),
      8,
      0,
      0x16,
      0,
      2,
      0,
      0,
      0,
      0x31,
      0,
    );
    expect(sniffFormat(ds)).toBe('dicom');
  });

  it('recognises a bare explicit VR big endian data set', () => {
    const ds = bytes(0, 8, 0, 5, 0x43, 0x53, 0, 2, 0x41, 0x20, 0, 8, 0, 0x16, 0x55, 0x49, 0, 2, 0x31, 0);
    expect(sniffFormat(ds)).toBe('dicom');
  });

  it('refuses text, empty and ambiguous content', () => {
    expect(sniffFormat(new Uint8Array())).toBeNull();
    expect(sniffFormat(new TextEncoder().encode('hello, this is not an image at all'))).toBeNull();
    expect(sniffFormat(bytes(0x89, 0x50, 0x4e))).toBeNull();
    expect(sniffFormat(new Uint8Array(200))).toBeNull();
    // A single plausible element is not enough evidence when more bytes follow.
    expect(
      sniffFormat(concat([encodeExplicit(text(0x00080005, 'CS', 'ISO_IR 100')), bytes(1, 2, 3, 4, 5, 6, 7, 8, 9)])),
    ).toBeNull();
  });
});
