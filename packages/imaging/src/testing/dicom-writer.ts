/**
 * A tiny DICOM writer for tests: builds Part 10 files (PS3.10 7.1) element by element, including
 * deliberately broken ones. Not exported from the package.
 */
import { concat } from '../bytes.ts';
import { LONG_LENGTH_VRS } from '../dicom/vr.ts';

export type Element = { tag: number; vr: string; value: Uint8Array; undefinedLength?: boolean; raw?: boolean };

const ascii = (s: string): Uint8Array => new Uint8Array([...s].map((c) => c.charCodeAt(0)));

// Tests import concat from here along with the writer; it is the package's own.
export { concat } from '../bytes.ts';

/** Text value padded to even length (PS3.5 6.2: space, or NUL for UI). */
export function text(tag: number, vr: string, s: string): Element {
  const padded = s.length % 2 === 1 ? s + (vr === 'UI' ? '\0' : ' ') : s;
  return { tag, vr, value: ascii(padded) };
}

export function us(tag: number, ...values: number[]): Element {
  const b = new Uint8Array(values.length * 2);
  const v = new DataView(b.buffer);
  values.forEach((x, i) => v.setUint16(i * 2, x, true));
  return { tag, vr: 'US', value: b };
}

export function ob(tag: number, value: Uint8Array, vr = 'OB'): Element {
  return { tag, vr, value };
}

/** Encodes one explicit VR little endian element (PS3.5 7.1.2). */
export function encodeExplicit(el: Element, lengthOverride?: number): Uint8Array {
  if (el.raw) return el.value;
  const long = LONG_LENGTH_VRS.has(el.vr);
  const header = new Uint8Array(long ? 12 : 8);
  const v = new DataView(header.buffer);
  v.setUint16(0, el.tag >>> 16, true);
  v.setUint16(2, el.tag & 0xffff, true);
  header[4] = el.vr.charCodeAt(0);
  header[5] = el.vr.charCodeAt(1);
  const length = el.undefinedLength ? 0xffffffff : (lengthOverride ?? el.value.length);
  if (long) v.setUint32(8, length, true);
  else v.setUint16(6, length, true);
  return concat([header, el.value]);
}

/** Item (FFFE,E000) of a sequence or encapsulated pixel data (PS3.5 7.5). */
export function item(content: Uint8Array, undefinedLength = false): Uint8Array {
  const h = new Uint8Array(8);
  const v = new DataView(h.buffer);
  v.setUint16(0, 0xfffe, true);
  v.setUint16(2, 0xe000, true);
  v.setUint32(4, undefinedLength ? 0xffffffff : content.length, true);
  return concat([h, content]);
}

export function delimiter(kind: 'item' | 'sequence'): Uint8Array {
  const h = new Uint8Array(8);
  const v = new DataView(h.buffer);
  v.setUint16(0, 0xfffe, true);
  v.setUint16(2, kind === 'item' ? 0xe00d : 0xe0dd, true);
  return h;
}

export function metaGroup(transferSyntaxUid: string): Uint8Array {
  return concat([
    encodeExplicit(ob(0x00020001, new Uint8Array([0, 1]))),
    encodeExplicit(text(0x00020002, 'UI', '1.2.840.10008.5.1.4.1.1.7')),
    encodeExplicit(text(0x00020003, 'UI', '1.2.3.4.5.6')),
    encodeExplicit(text(0x00020010, 'UI', transferSyntaxUid)),
  ]);
}

/** Preamble + 'DICM' + meta group + the given data set bytes. */
export function part10(dataset: Uint8Array, transferSyntaxUid = '1.2.840.10008.1.2.1'): Uint8Array {
  return concat([new Uint8Array(128), ascii('DICM'), metaGroup(transferSyntaxUid), dataset]);
}

export interface SimpleImage {
  rows: number;
  columns: number;
  frames?: number;
  bitsAllocated?: number;
  samplesPerPixel?: number;
  photometric?: string;
  pixelRepresentation?: number;
  pixels?: Uint8Array;
  extra?: Element[];
  bitsStored?: number;
  pixelVr?: 'OB' | 'OW';
}

/** A minimal explicit VR little endian image data set, elements in ascending tag order. */
export function imageDataset(img: SimpleImage): Uint8Array {
  const bits = img.bitsAllocated ?? 16;
  const spp = img.samplesPerPixel ?? 1;
  const frames = img.frames ?? 1;
  const size = (img.rows * img.columns * frames * spp * bits) / 8;
  const pixels = img.pixels ?? new Uint8Array(size + (size % 2));
  const elements: Element[] = [
    text(0x00080016, 'UI', '1.2.840.10008.5.1.4.1.1.7'),
    text(0x00080018, 'UI', '1.2.3.4.5.6'),
    text(0x00080060, 'CS', 'OT'),
    text(0x00100010, 'PN', 'Test^Patient'),
    text(0x00100020, 'LO', 'P-001'),
    us(0x00280002, spp),
    text(0x00280004, 'CS', img.photometric ?? (spp === 3 ? 'RGB' : 'MONOCHROME2')),
    ...(spp === 3 ? [us(0x00280006, 0)] : []),
    ...(frames !== 1 ? [text(0x00280008, 'IS', String(frames))] : []),
    us(0x00280010, img.rows),
    us(0x00280011, img.columns),
    us(0x00280100, bits),
    us(0x00280101, img.bitsStored ?? bits),
    us(0x00280102, (img.bitsStored ?? bits) - 1),
    us(0x00280103, img.pixelRepresentation ?? 0),
    ...(img.extra ?? []),
  ].sort((a, b) => a.tag - b.tag);
  return concat([
    ...elements.map((e) => encodeExplicit(e)),
    encodeExplicit(ob(0x7fe00010, pixels, img.pixelVr ?? (bits > 8 ? 'OW' : 'OB'))),
  ]);
}
