import { concat } from '../bytes.ts';
import type { ParsedDicom } from '../dicom/parse.ts';
import { readAscii } from '../dicom/parse.ts';
import { Tags } from '../dicom/tags.ts';
import { getString } from '../dicom/values.ts';

/**
 * Rewrites the file header as PS3.10 7.1 requires it: 128-byte preamble, 'DICM', and a File Meta
 * Information group with its group length (0002,0000) and the Type 1 elements, keeping the data set
 * bytes as they are. Files without a preamble, without a meta group, or without the group length
 * (which dcmjs needs) are thereby made readable.
 */
export function normalisePart10(bytes: Uint8Array, parsed: ParsedDicom): Uint8Array {
  const meta = parsed.meta;
  const text = (t: number): string | undefined => {
    const el = meta.elements.get(t);
    return el ? readAscii(meta.bytes, el.offset, el.length) : undefined;
  };
  const sopClass = text(Tags.MediaStorageSOPClassUID) ?? getString(parsed.dataset, Tags.SOPClassUID) ?? '';
  const sopInstance = text(Tags.MediaStorageSOPInstanceUID) ?? getString(parsed.dataset, Tags.SOPInstanceUID) ?? '';
  const elements = [
    element(0x0001, 'OB', Uint8Array.of(0, 1)),
    element(0x0002, 'UI', uid(sopClass)),
    element(0x0003, 'UI', uid(sopInstance)),
    element(0x0010, 'UI', uid(parsed.transferSyntaxUid)),
    element(0x0012, 'UI', uid(text(0x00020012) ?? '1.2.826.0.1.3680043.10.1455.1')),
  ];
  const body = concat(elements);
  const groupLength = new Uint8Array(12);
  const v = new DataView(groupLength.buffer);
  v.setUint16(0, 0x0002, true);
  v.setUint16(2, 0x0000, true);
  groupLength.set([0x55, 0x4c], 4); // UL
  v.setUint16(6, 4, true);
  v.setUint32(8, body.length, true);
  return concat([
    new Uint8Array(128),
    Uint8Array.of(0x44, 0x49, 0x43, 0x4d),
    groupLength,
    body,
    bytes.subarray(parsed.datasetOffset),
  ]);
}

function uid(value: string): Uint8Array {
  const padded = value.length % 2 ? `${value}\0` : value;
  return Uint8Array.from(padded, (c) => c.charCodeAt(0));
}

function element(elementNumber: number, vr: 'OB' | 'UI', value: Uint8Array): Uint8Array {
  const long = vr === 'OB';
  const header = new Uint8Array(long ? 12 : 8);
  const v = new DataView(header.buffer);
  v.setUint16(0, 0x0002, true);
  v.setUint16(2, elementNumber, true);
  header[4] = vr.charCodeAt(0);
  header[5] = vr.charCodeAt(1);
  if (long) v.setUint32(8, value.length, true);
  else v.setUint16(6, value.length, true);
  return concat([header, value]);
}
