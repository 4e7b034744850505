import { deflateRawSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { ImagingError } from '../errors.ts';
import {
  concat,
  delimiter,
  encodeExplicit,
  imageDataset,
  item,
  metaGroup,
  part10,
  text,
} from '../testing/dicom-writer.ts';
import { parseDicom } from './parse.ts';
import { Tags } from './tags.ts';
import { getNumber, getString, getUint16 } from './values.ts';

function failure(fn: () => unknown): ImagingError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ImagingError);
    return err as ImagingError;
  }
  throw new Error('expected an ImagingError');
}

const header = (tag: number, vr: string, length: number): Uint8Array =>
  encodeExplicit({ tag, vr, value: new Uint8Array(), undefinedLength: length === 0xffffffff }, length);

describe('parseDicom', () => {
  it('reads a Part 10 file', () => {
    const parsed = parseDicom(part10(imageDataset({ rows: 3, columns: 4 })));
    expect(parsed.transferSyntaxUid).toBe('1.2.840.10008.1.2.1');
    expect(getUint16(parsed.dataset, Tags.Rows)).toBe(3);
    expect(getString(parsed.dataset, Tags.PatientName)).toBe('Test^Patient');
    expect(parsed.dataset.elements.get(Tags.PixelData)?.length).toBe(24);
  });

  it('reads deflated data sets and refuses deflate bombs', () => {
    const ds = imageDataset({ rows: 2, columns: 2 });
    const file = concat([
      new Uint8Array(128),
      new TextEncoder().encode('DICM'),
      metaGroup('1.2.840.10008.1.2.1.99'),
      deflateRawSync(ds),
    ]);
    expect(getUint16(parseDicom(file).dataset, Tags.Columns)).toBe(2);
    const bomb = concat([
      new Uint8Array(128),
      new TextEncoder().encode('DICM'),
      metaGroup('1.2.840.10008.1.2.1.99'),
      deflateRawSync(new Uint8Array(8 * 1024 * 1024)),
    ]);
    expect(failure(() => parseDicom(bomb, { limits: { maxInflatedBytes: 1024 * 1024 } }))).toMatchObject({
      code: 'too_large',
    });
  });

  it('reads sequences of defined and undefined length', () => {
    const voi = concat([
      encodeExplicit(text(Tags.WindowCenter, 'DS', '40')),
      encodeExplicit(text(Tags.WindowWidth, 'DS', '400')),
    ]);
    const seq = concat([
      header(Tags.VOILUTSequence, 'SQ', 0xffffffff),
      item(concat([voi, delimiter('item')]), true),
      item(voi),
      delimiter('sequence'),
    ]);
    const parsed = parseDicom(part10(concat([encodeExplicit(text(Tags.SOPInstanceUID, 'UI', '1.2')), seq])));
    const items = parsed.dataset.elements.get(Tags.VOILUTSequence)?.items ?? [];
    expect(items).toHaveLength(2);
    expect(items.map((i) => getNumber(i, Tags.WindowWidth))).toEqual([400, 400]);
  });

  it('refuses zero bytes and non-DICOM content', () => {
    expect(failure(() => parseDicom(new Uint8Array()))).toMatchObject({ status: 400 });
    expect(failure(() => parseDicom(new Uint8Array(300)))).toMatchObject({ code: 'unsupported_format', status: 415 });
  });

  it('refuses a lying length field', () => {
    const ds = concat([
      encodeExplicit(text(Tags.SOPInstanceUID, 'UI', '1.2')),
      header(Tags.PatientName, 'UT', 0x7ffffff0),
      new Uint8Array(16),
    ]);
    const err = failure(() => parseDicom(part10(ds)));
    expect(err).toMatchObject({ code: 'corrupt', status: 422 });
    expect(err.message).toMatch(/\(0010,0010\) claims 2147483632 bytes but only 16 remain/);
  });

  it('refuses an undefined-length item that never ends, in bounded time', () => {
    const ds = concat([
      encodeExplicit(text(Tags.SOPInstanceUID, 'UI', '1.2')),
      header(Tags.VOILUTSequence, 'SQ', 0xffffffff),
      item(new Uint8Array(), true),
      ...Array.from({ length: 20_000 }, () => encodeExplicit(text(Tags.WindowCenter, 'DS', '40'))),
    ]);
    const started = performance.now();
    expect(failure(() => parseDicom(part10(ds))).message).toMatch(/never ends/);
    expect(performance.now() - started).toBeLessThan(2000);
  });

  it('refuses sequences nested deeper than the limit', () => {
    let inner = encodeExplicit(text(Tags.WindowCenter, 'DS', '40'));
    for (let i = 0; i < 200; i++) {
      inner = concat([
        header(Tags.VOILUTSequence, 'SQ', 0xffffffff),
        item(concat([inner, delimiter('item')]), true),
        delimiter('sequence'),
      ]);
    }
    expect(failure(() => parseDicom(part10(inner))).message).toMatch(/nests sequences deeper than 16/);
  });

  it('refuses more data elements than the limit', () => {
    const many = concat(Array.from({ length: 2000 }, () => encodeExplicit(text(0x00091010, 'LO', 'x'))));
    expect(failure(() => parseDicom(part10(many), { limits: { maxElements: 1000 } })).message).toMatch(
      /more than 1000 data elements/,
    );
  });

  it('gives only ImagingError for every truncation of a valid file', () => {
    const file = part10(imageDataset({ rows: 4, columns: 4 }));
    for (let n = 0; n < file.length; n++) {
      try {
        parseDicom(file.subarray(0, n));
      } catch (err) {
        expect(err).toBeInstanceOf(ImagingError);
      }
    }
  });
});
