import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { decodeImage } from '../decode.ts';
import type { DicomDataSet } from '../dicom/parse.ts';
import { parseDicom } from '../dicom/parse.ts';
import { getString } from '../dicom/values.ts';
import { ImagingError } from '../errors.ts';
import type { Element } from '../testing/dicom-writer.ts';
import { concat, encodeExplicit, imageDataset, item, ob, part10, text } from '../testing/dicom-writer.ts';
import { hasDcmtk, hasPydicomFiles, readPydicom } from '../testing/fixtures.ts';
import { deidentifyDicom, remapUid, shiftDate } from './deidentify.ts';

const SECRET = 'a-test-secret-of-32-characters!!';
const LIMITS = { maxPixels: 10_000_000, maxDimension: 4096 };

const sq = (tag: number, ...items: Element[][]): Element => ({
  tag,
  vr: 'SQ',
  value: concat(items.map((els) => item(concat(els.map((e) => encodeExplicit(e)))))),
});

function identifiable(studyUid = '1.2.826.0.1.3680043.8.498.1', extra: Element[] = []): Uint8Array {
  return part10(
    imageDataset({
      rows: 4,
      columns: 4,
      pixels: Uint8Array.from({ length: 32 }, (_, i) => i),
      extra: [
        text(0x00080020, 'DA', '20240131'),
        text(0x00080030, 'TM', '101500'),
        text(0x00080050, 'SH', 'ACC123'),
        text(0x00080080, 'LO', 'St Elsewhere Hospital'),
        text(0x00080090, 'PN', 'Referring^Doctor'),
        text(0x00090010, 'LO', 'ACME private'),
        text(0x00091001, 'LO', 'secret private value'),
        sq(0x00081140, [
          text(0x00081150, 'UI', '1.2.840.10008.5.1.4.1.1.7'),
          text(0x00081155, 'UI', '1.2.826.0.1.3680043.8.498.99'),
        ]),
        sq(0x00400260, [
          text(0x00080100, 'SH', 'X1'),
          text(0x0040a123, 'PN', 'Nested^Person'),
          text(0x00191001, 'LO', 'nested private'),
        ]),
        text(0x00100030, 'DA', '19700101'),
        text(0x00101040, 'LO', '1 Main Street'),
        text(0x0020000d, 'UI', studyUid),
        text(0x0020000e, 'UI', '1.2.826.0.1.3680043.8.498.2'),
        ob(0x60003000, new Uint8Array(2)),
        ...extra,
      ],
    }),
  );
}

function allTags(ds: DicomDataSet, out: number[] = []): number[] {
  for (const [t, el] of ds.elements) {
    out.push(t);
    for (const i of el.items ?? []) allTags(i, out);
  }
  return out;
}

describe('deidentifyDicom (PS3.15 Basic Application Level Confidentiality Profile)', () => {
  it('removes or replaces identifying attributes at every depth, and all private and overlay groups', () => {
    const { bytes, warnings } = deidentifyDicom(identifiable(), {
      uidSecret: SECRET,
      patientName: 'ANON^0001',
      patientId: 'ANON-0001',
    });
    const ds = parseDicom(bytes).dataset;
    expect(getString(ds, 0x00100010)).toBe('ANON^0001');
    expect(getString(ds, 0x00100020)).toBe('ANON-0001');
    for (const gone of [0x00080080, 0x00101040, 0x60003000])
      expect(ds.elements.has(gone), gone.toString(16)).toBe(false);
    for (const empty of [0x00080020, 0x00080030, 0x00080050, 0x00080090, 0x00100030]) {
      expect(getString(ds, empty), empty.toString(16)).toBeUndefined();
    }
    const tags = allTags(ds);
    expect(tags.filter((t) => (t >>> 16) % 2 === 1)).toEqual([]);
    expect(tags).not.toContain(0x0040a123); // the nested person name
    expect(getString(ds, 0x00120062)).toBe('YES');
    expect(getString(ds, 0x00280303)).toBe('REMOVED');
    expect(warnings.join(' ')).toMatch(/burned-in/); // OT without (0028,0301)
  });

  it('leaves no identifying value anywhere in the bytes: nested sequences, private tags, free text, AE titles', () => {
    const secrets = {
      name: 'Holmes^Sherlock',
      id: 'PID-221B',
      accession: 'ACC-99172',
      institution: 'Baker Street Clinic',
      station: 'XRAY-ROOM-7',
      comment: 'seen by Dr Watson',
      nested: 'Hudson^Martha',
      nestedId: 'NESTED-ID-4411',
      privateText: 'private-mycroft',
      deepPrivate: 'deep-private-moriarty',
      operator: 'Lestrade^G',
      aet: 'BAKER_AET',
      url: 'https://pacs.example/studies/1.2.826.0.1.3680043.8.498.1',
      uid: '1.2.826.0.1.3680043.8.498.77',
      date: '19541106',
    };
    const input = part10(
      imageDataset({
        rows: 2,
        columns: 2,
        pixels: Uint8Array.of(1, 2, 3, 4),
        extra: [
          text(0x00080050, 'SH', secrets.accession),
          text(0x00080055, 'AE', secrets.aet),
          text(0x00080080, 'LO', secrets.institution),
          text(0x00081010, 'SH', secrets.station),
          text(0x00081070, 'PN', secrets.operator),
          text(0x00081190, 'UR', secrets.url),
          text(0x00090010, 'LO', 'SHERLOCK PRIVATE'),
          text(0x00091001, 'LO', secrets.privateText),
          text(0x00100010, 'PN', secrets.name),
          text(0x00100020, 'LO', secrets.id),
          text(0x00100030, 'DA', secrets.date),
          text(0x00204000, 'LT', secrets.comment),
          sq(0x00081140, [text(0x00081155, 'UI', secrets.uid)]),
          sq(0x00400275, [text(0x00401001, 'SH', secrets.nestedId)]),
          sq(0x0040a730, [text(0x0040a123, 'PN', secrets.nested)]),
          sq(0x00540016, [
            text(0x00181070, 'LO', 'ok'),
            text(0x00190010, 'LO', 'CREATOR'),
            text(0x00191002, 'LO', secrets.deepPrivate),
            text(0x0040a123, 'PN', secrets.nested),
            text(0x00080081, 'ST', secrets.comment),
          ]),
        ],
      }),
    );
    const out = deidentifyDicom(input, { uidSecret: SECRET, burnedInAnnotation: 'warn' }).bytes;
    const latin1 = Buffer.from(out).toString('latin1');
    for (const [what, value] of Object.entries(secrets)) expect(latin1, what).not.toContain(value);
    // The sequence that is not identifying stays, emptied of what was.
    const kept = parseDicom(out).dataset.elements.get(0x00540016)?.items?.[0];
    expect(getString(kept!, 0x00181070)).toBe('ok');
    expect([...kept!.elements.keys()]).toEqual([0x00181070]);
  });

  it('remaps UIDs consistently under 2.25, keeps DICOM-defined UIDs, and keeps the pixels', async () => {
    const a = deidentifyDicom(identifiable(), { uidSecret: SECRET });
    const b = deidentifyDicom(identifiable(), { uidSecret: SECRET });
    const other = deidentifyDicom(identifiable(), { uidSecret: 'another-secret-of-enough-length' });
    expect(a.studyInstanceUid).toBe(remapUid('1.2.826.0.1.3680043.8.498.1', SECRET));
    expect(a.studyInstanceUid).toMatch(/^2\.25\.\d+$/);
    expect(a.studyInstanceUid!.length).toBeLessThanOrEqual(64);
    expect(b.studyInstanceUid).toBe(a.studyInstanceUid);
    expect(other.studyInstanceUid).not.toBe(a.studyInstanceUid);
    const parsed = parseDicom(a.bytes);
    expect(getString(parsed.dataset, 0x00080016)).toBe('1.2.840.10008.5.1.4.1.1.7');
    expect(getString(parsed.meta, 0x00020003)).toBe(a.sopInstanceUid);
    const ref = parsed.dataset.elements.get(0x00081140)?.items?.[0];
    expect(getString(ref!, 0x00081150)).toBe('1.2.840.10008.5.1.4.1.1.7');
    expect(getString(ref!, 0x00081155)).toBe(remapUid('1.2.826.0.1.3680043.8.498.99', SECRET));
    const before = await decodeImage(identifiable(), LIMITS);
    const after = await decodeImage(a.bytes, LIMITS);
    expect(Array.from(after.pixels)).toEqual(Array.from(before.pixels));
  });

  it('shifts dates and keeps times with the modified-dates option (E.3.6)', () => {
    expect(shiftDate('20240131', 30)).toBe('20240301');
    expect(shiftDate('20240301120000.5+0100', -1)).toBe('20240229120000.5+0100');
    const { bytes } = deidentifyDicom(identifiable(), { uidSecret: SECRET, dateShiftDays: 30 });
    const ds = parseDicom(bytes).dataset;
    expect(getString(ds, 0x00080020)).toBe('20240301');
    expect(getString(ds, 0x00080030)).toBe('101500');
    expect(getString(ds, 0x00100030)).toBeUndefined(); // birth date is still emptied
    expect(getString(ds, 0x00280303)).toBe('MODIFIED');
  });

  it('refuses burned-in annotation unless asked to warn', () => {
    const burned = identifiable(undefined, [text(0x00280301, 'CS', 'YES')]);
    expect(() => deidentifyDicom(burned, { uidSecret: SECRET })).toThrow(ImagingError);
    try {
      deidentifyDicom(burned, { uidSecret: SECRET });
    } catch (err) {
      expect(err).toMatchObject({ code: 'burned_in_annotation', status: 422 });
    }
    const warned = deidentifyDicom(burned, { uidSecret: SECRET, burnedInAnnotation: 'warn' });
    expect(warned.warnings.join(' ')).toMatch(/Burned In Annotation is YES/);
  });

  it.skipIf(!hasDcmtk())('writes files that DCMTK accepts (dcmftest, dcmdump without errors)', () => {
    const inputs = [
      identifiable(),
      ...(hasPydicomFiles
        ? ['CT_small.dcm', 'MR_small_bigendian.dcm', 'MR_small_implicit.dcm', 'image_dfl.dcm', 'JPEG2000.dcm'].map(
            readPydicom,
          )
        : []),
    ];
    const dir = mkdtempSync(join(tmpdir(), 'scanflow-deid-'));
    inputs.forEach((input, i) => {
      const path = join(dir, `${i}.dcm`);
      writeFileSync(path, deidentifyDicom(input, { uidSecret: SECRET, burnedInAnnotation: 'warn' }).bytes);
      expect(execFileSync('dcmftest', [path]).toString()).toMatch(/^yes:/);
      const dump = execFileSync('dcmdump', ['-q', path], { stdio: 'pipe' }).toString();
      expect(dump).not.toMatch(/CompressedSamples|Lestrade|St Elsewhere/);
    });
  });

  it.skipIf(!hasPydicomFiles)('keeps pixels of real files identical', async () => {
    for (const name of ['CT_small.dcm', 'MR_small_bigendian.dcm', 'image_dfl.dcm', 'MR_small_jpeg_ls_lossless.dcm']) {
      const input = readPydicom(name);
      const out = deidentifyDicom(input, { uidSecret: SECRET });
      const [a, b] = await Promise.all([decodeImage(input, LIMITS), decodeImage(out.bytes, LIMITS)]);
      expect(Array.from(b.pixels), name).toEqual(Array.from(a.pixels));
      expect(b.dicom?.patientName, name).toBeUndefined();
    }
  });
});
