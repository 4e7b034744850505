import dcmjs from 'dcmjs';
import { describe, expect, it } from 'vitest';
import type { Element } from '../testing/dicom-writer.ts';
import { concat, encodeExplicit, imageDataset, item, part10, text } from '../testing/dicom-writer.ts';
import { readDicomDict } from '../deid/dcmjs-read.ts';
import { dicomJson } from './json.ts';
import { parseDicom } from './parse.ts';

const sq = (tag: number, ...items: Element[][]): Element => ({
  tag,
  vr: 'SQ',
  value: concat(items.map((els) => item(concat(els.map((e) => encodeExplicit(e)))))),
});

const file = part10(
  imageDataset({
    rows: 2,
    columns: 2,
    pixels: Uint8Array.of(1, 2, 3, 4),
    extra: [
      text(0x00100010, 'PN', 'Doe^Jane'),
      text(0x00200013, 'IS', '7'),
      text(0x00280030, 'DS', '0.5\\0.25'),
      text(0x00081030, 'LO', ''),
      sq(0x00081140, [text(0x00081155, 'UI', '1.2.3.4.5')]),
    ],
  }),
);

/** dcmjs's naturalise/denaturalise pair: the reference for the DICOM JSON Model. */
const { DicomMetaDictionary } = (
  dcmjs as unknown as {
    data: { DicomMetaDictionary: { naturalizeDataset(d: unknown): unknown; denaturalizeDataset(d: unknown): unknown } };
  }
).data;

describe('dicomJson (PS3.18 annex F DICOM JSON Model)', () => {
  it('writes tags, numbers, person names, sequences and empty values as the model says', () => {
    const json = dicomJson(file, { pixelDataUri: 'https://x.test/frames/1' });
    expect(json['00100010']).toEqual({ vr: 'PN', Value: [{ Alphabetic: 'Doe^Jane' }] });
    expect(json['00200013']).toEqual({ vr: 'IS', Value: [7] });
    expect(json['00280030']).toEqual({ vr: 'DS', Value: [0.5, 0.25] });
    expect(json['00081030']).toEqual({ vr: 'LO' });
    expect(json['00081140']).toEqual({ vr: 'SQ', Value: [{ '00081155': { vr: 'UI', Value: ['1.2.3.4.5'] } }] });
    expect(json['7FE00010']).toEqual({ vr: 'OW', BulkDataURI: 'https://x.test/frames/1' });
    expect(Object.keys(json).every((k) => /^[0-9A-F]{8}$/.test(k))).toBe(true);
    expect(Object.keys(json).some((k) => k.startsWith('0002'))).toBe(false);
    expect(JSON.stringify(json)).not.toContain('_rawValue');
  });

  it('naturalises with dcmjs to what dcmjs reads from the file itself, and denaturalises to the same tags and VRs', () => {
    const json = dicomJson(file);
    expect(json['7FE00010']).toBeUndefined();
    const natural = DicomMetaDictionary.naturalizeDataset(structuredClone(json)) as Record<string, unknown>;
    const reference = DicomMetaDictionary.naturalizeDataset(readDicomDict(file, parseDicom(file)).dict) as Record<
      string,
      unknown
    >;
    delete reference.PixelData;
    delete reference._vrMap;
    delete natural._vrMap;
    // An empty value is absent in the model (F.2.5), where dcmjs's reader keeps an empty string.
    const emptyAsNull = (_key: string, v: unknown) => (v === '' ? null : v);
    expect(JSON.parse(JSON.stringify(natural))).toEqual(JSON.parse(JSON.stringify(reference), emptyAsNull));
    expect(natural).toMatchObject({
      PatientName: [{ Alphabetic: 'Doe^Jane' }],
      InstanceNumber: 7,
      PixelSpacing: [0.5, 0.25],
    });
    const again = DicomMetaDictionary.denaturalizeDataset(natural) as Record<string, { vr: string }>;
    expect(Object.fromEntries(Object.entries(again).map(([k, v]) => [k, v.vr]))).toEqual(
      Object.fromEntries(Object.entries(json).map(([k, v]) => [k, v.vr])),
    );
  });
});
