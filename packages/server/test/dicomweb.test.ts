import { randomUUID } from 'node:crypto';
import dcmjs from 'dcmjs';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withSystem } from '../src/db/scope.ts';
import { bearer, createUser, startTestApp, tamperBlob, uniqueSlug, type TestApp, type TestUser } from './harness.ts';
import { dicomBytes, newUid, pngBytes } from './fixtures.ts';

/** dcmjs's naturalise/denaturalise: the independent check that metadata is the DICOM JSON Model. */
const { DicomMetaDictionary } = (
  dcmjs as unknown as {
    data: {
      DicomMetaDictionary: {
        naturalizeDataset(d: unknown): Record<string, unknown>;
        denaturalizeDataset(d: unknown): unknown;
      };
    };
  }
).data;

type Json = Record<string, { vr: string; Value?: unknown[]; BulkDataURI?: string }>;

/** A STOW-RS body built by hand (RFC 2387), independent of the server's own multipart code. */
function related(parts: { bytes: Buffer; type?: string }[], boundary = `b-${randomUUID()}`) {
  const chunks: Buffer[] = [];
  for (const part of parts) {
    chunks.push(Buffer.from(`--${boundary}\r\nContent-Type: ${part.type ?? 'application/dicom'}\r\n\r\n`), part.bytes);
    chunks.push(Buffer.from('\r\n'));
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return {
    payload: Buffer.concat(chunks),
    headers: { 'content-type': `multipart/related; type="application/dicom"; boundary=${boundary}` },
  };
}

/** Splits a multipart/related answer into its parts' bodies and content types. */
function parts(contentType: string, body: Buffer): { type: string; body: Buffer }[] {
  const boundary = /boundary="?([^";]+)"?/.exec(contentType)?.[1];
  if (!boundary) throw new Error(`no boundary in ${contentType}`);
  const out: { type: string; body: Buffer }[] = [];
  let at = body.indexOf(`--${boundary}`);
  for (;;) {
    at += boundary.length + 2;
    if (body.subarray(at, at + 2).toString() === '--') return out;
    const headerEnd = body.indexOf('\r\n\r\n', at);
    const next = body.indexOf(`\r\n--${boundary}`, headerEnd);
    const headers = body.subarray(at, headerEnd).toString();
    out.push({
      type: /content-type:\s*([^\r\n]+)/i.exec(headers)?.[1] ?? '',
      body: body.subarray(headerEnd + 4, next),
    });
    at = next + 2;
  }
}

const value = (json: Json, tag: string) => json[tag]?.Value?.[0];

/** An instance labelled JPEG XL Lossless (1.2.840.10008.1.2.4.110), which Scanflow cannot decode. */
function jpegXl(): Buffer {
  const dict = (
    dcmjs as unknown as {
      data: { DicomMessage: { readFile(b: ArrayBuffer): { meta: Json; write(): ArrayBuffer } } };
    }
  ).data.DicomMessage.readFile(new Uint8Array(dicomBytes()).buffer);
  dict.meta['00020010'] = { vr: 'UI', Value: ['1.2.840.10008.1.2.4.110'] };
  return Buffer.from(dict.write());
}

let t: TestApp;
let org: string;
let doctor: TestUser;
let stranger: TestUser;
let patient: TestUser;
const studyA = newUid();
const studyB = newUid();
const seriesCt = newUid();
const seriesMr = newUid();
const mrnA = `MRN-A-${randomUUID().slice(0, 6)}`;
const mrnB = `MRN-B-${randomUUID().slice(0, 6)}`;
const instances: { sop: string; bytes: Buffer; study: string; series: string }[] = [];

function instance(study: string, series: string, mrn: string, modality: string, studyDate: string) {
  const sop = newUid();
  const bytes = dicomBytes({
    sopInstanceUid: sop,
    patientId: mrn,
    patientName: `Doe^${mrn}`,
    attributes: { StudyInstanceUID: study, SeriesInstanceUID: series, Modality: modality, StudyDate: studyDate },
  });
  instances.push({ sop, bytes, study, series });
  return bytes;
}

const get = (user: TestUser, url: string, accept?: string) =>
  t.app.inject({ method: 'GET', url, headers: { ...bearer(user), ...(accept ? { accept } : {}) } });

beforeAll(async () => {
  t = await startTestApp();
  org = uniqueSlug();
  doctor = await createUser(t, org, 'doctor');
  patient = await createUser(t, org, 'patient');
  stranger = await createUser(t, uniqueSlug(), 'doctor');
  const body = related([
    { bytes: instance(studyA, seriesCt, mrnA, 'CT', '20240105') },
    { bytes: instance(studyA, seriesCt, mrnA, 'CT', '20240105') },
    { bytes: instance(studyA, seriesMr, mrnA, 'MR', '20240105') },
    { bytes: instance(studyB, newUid(), mrnB, 'DX', '20250310') },
  ]);
  const stored = await t.app.inject({
    method: 'POST',
    url: '/dicom-web/studies',
    ...body,
    headers: { ...body.headers, ...bearer(doctor) },
  });
  expect(stored.statusCode, stored.body).toBe(200);
});

afterAll(async () => {
  await t?.close();
});

describe('STOW-RS', () => {
  it('stored every instance as a scan and answered the PS3.18 store response', async () => {
    const { rows } = await withSystem(t.ctx.db, (tx) =>
      tx.query<{ source: string; status: string; sop_instance_uid: string }>(
        `SELECT source, status, sop_instance_uid FROM scans WHERE sop_instance_uid = ANY($1::text[])`,
        [instances.map((i) => i.sop)],
      ),
    );
    expect(rows).toHaveLength(4);
    expect(rows.every((r) => r.source === 'dicomweb' && r.status === 'PENDING_AI')).toBe(true);
    const audit = await withSystem(t.ctx.db, (tx) =>
      tx.query<{ action: string; details: Record<string, unknown> }>(
        `SELECT action, details FROM audit_events WHERE actor_user_id = $1 AND action IN ('dicomweb.store', 'scan.ingest')`,
        [doctor.id],
      ),
    );
    expect(audit.rows.filter((r) => r.action === 'scan.ingest')).toHaveLength(4);
    expect(audit.rows.find((r) => r.action === 'dicomweb.store')?.details).toMatchObject({ stored: 4, failed: 0 });
  });

  it('fails instances one by one with a reason, keeps the good ones, and never duplicates', async () => {
    const fresh = instance(studyA, seriesMr, mrnA, 'MR', '20240105');
    const freshSop = instances.at(-1)!.sop;
    const otherStudy = instance(studyB, newUid(), mrnB, 'DX', '20250310');
    const otherStudySop = instances.at(-1)!.sop;
    instances.pop(); // neither stored
    instances.pop();
    instances.push({ sop: freshSop, bytes: fresh, study: studyA, series: seriesMr });
    const body = related([
      { bytes: instances[0]!.bytes }, // already stored: reported as stored, not duplicated
      { bytes: fresh },
      { bytes: otherStudy }, // another study than the URL names
      { bytes: jpegXl() },
      { bytes: await pngBytes(8, 8), type: 'image/png' },
    ]);
    const res = await t.app.inject({
      method: 'POST',
      url: `/dicom-web/studies/${studyA}`,
      ...body,
      headers: { ...body.headers, ...bearer(doctor) },
    });
    expect(res.statusCode, res.body).toBe(202);
    expect(res.headers['content-type']).toMatch(/^application\/dicom\+json/);
    const json = res.json<Json>();
    expect(value(json, '00081190')).toMatch(new RegExp(`/dicom-web/studies/${studyA}$`));
    const referenced = (json['00081199']?.Value ?? []) as Json[];
    expect(referenced.map((r) => value(r, '00081155'))).toEqual([instances[0]!.sop, freshSop]);
    const failed = (json['00081198']?.Value ?? []) as Json[];
    expect(failed.map((f) => value(f, '00081197'))).toEqual([0xc409, 0xc122, 0xc000]);
    expect(value(failed[0]!, '00081155')).toBe(otherStudySop);
    const count = await withSystem(t.ctx.db, (tx) =>
      tx.query<{ n: number }>(`SELECT count(*)::int AS n FROM scans WHERE sop_instance_uid = $1`, [instances[0]!.sop]),
    );
    expect(count.rows[0]!.n).toBe(1);
  });

  it('answers a malformed request with 400/415 and a message, storing nothing', async () => {
    const post = (payload: Buffer | string, contentType: string) =>
      t.app.inject({
        method: 'POST',
        url: '/dicom-web/studies',
        payload,
        headers: { 'content-type': contentType, ...bearer(doctor) },
      });
    const noBoundary = await post('x', 'multipart/related; type="application/dicom"');
    expect(noBoundary.statusCode).toBe(400);
    expect(noBoundary.json().error.message).toMatch(/boundary/);
    const truncated = await post(
      '--abc\r\nContent-Type: application/dicom\r\n\r\nDICM',
      'multipart/related; boundary=abc',
    );
    expect(truncated.statusCode).toBe(400);
    expect(truncated.json().error.message).toMatch(/not terminated/);
    const wrongBoundary = await post('--xyz\r\n\r\n--xyz--', 'multipart/related; boundary=abc');
    expect(wrongBoundary.statusCode).toBe(400);
    const json = await post('{}', 'application/json');
    expect(json.statusCode).toBe(415);
    expect(json.json().error.message).toMatch(/multipart\/related/);
    const noneStored = related([
      { bytes: Buffer.from('not dicom at all') },
      { bytes: dicomBytes({ attributes: { SeriesInstanceUID: '' } }) }, // DICOMweb cannot address it
    ]);
    const rejected = await t.app.inject({
      method: 'POST',
      url: '/dicom-web/studies',
      ...noneStored,
      headers: { ...noneStored.headers, ...bearer(doctor) },
    });
    expect(rejected.statusCode).toBe(409);
    const reasons = (rejected.json<Json>()['00081198']?.Value as Json[]).map((f) => value(f, '00081197'));
    expect(reasons).toEqual([0xc000, 0xc000]);
  });

  it('requires a signed-in user', async () => {
    const body = related([{ bytes: dicomBytes() }]);
    expect((await t.app.inject({ method: 'POST', url: '/dicom-web/studies', ...body })).statusCode).toBe(401);
    expect((await t.app.inject({ method: 'GET', url: '/dicom-web/studies' })).statusCode).toBe(401);
  });
});

describe('QIDO-RS', () => {
  const uids = (res: { json<T>(): T }, tag: string) =>
    res
      .json<Json[]>()
      .map((r) => value(r, tag))
      .sort();

  it('finds studies by StudyInstanceUID, PatientID, StudyDate range and ModalitiesInStudy', async () => {
    const all = await get(doctor, '/dicom-web/studies');
    expect(all.statusCode).toBe(200);
    expect(all.headers['content-type']).toMatch(/^application\/dicom\+json/);
    expect(uids(all, '0020000D')).toEqual([studyA, studyB].sort());
    const a = (await get(doctor, `/dicom-web/studies?StudyInstanceUID=${studyA}`)).json<Json[]>();
    expect(a).toHaveLength(1);
    expect(value(a[0]!, '00201206')).toBe(2); // series
    expect(value(a[0]!, '00201208')).toBe(4); // instances (three, and one more stored later)
    expect(a[0]!['00080061']?.Value?.slice().sort()).toEqual(['CT', 'MR']);
    expect(value(a[0]!, '00100020')).toBe(mrnA);
    expect(value(a[0]!, '00100010')).toEqual({ Alphabetic: `Doe^${mrnA}` });
    expect(value(a[0]!, '00081190')).toMatch(new RegExp(`/dicom-web/studies/${studyA}$`));
    expect(uids(await get(doctor, `/dicom-web/studies?PatientID=${mrnB}`), '0020000D')).toEqual([studyB]);
    expect(uids(await get(doctor, `/dicom-web/studies?00100020=${mrnA}`), '0020000D')).toEqual([studyA]);
    expect(uids(await get(doctor, '/dicom-web/studies?StudyDate=20250101-'), '0020000D')).toEqual([studyB]);
    expect(uids(await get(doctor, '/dicom-web/studies?StudyDate=20240101-20241231'), '0020000D')).toEqual([studyA]);
    expect(uids(await get(doctor, '/dicom-web/studies?StudyDate=20240105'), '0020000D')).toEqual([studyA]);
    expect(uids(await get(doctor, '/dicom-web/studies?ModalitiesInStudy=MR'), '0020000D')).toEqual([studyA]);
    expect(uids(await get(doctor, '/dicom-web/studies?ModalitiesInStudy=DX,XA'), '0020000D')).toEqual([studyB]);
    expect(
      uids(await get(doctor, `/dicom-web/studies?StudyInstanceUID=${studyA},${studyB}&limit=1`), '0020000D'),
    ).toHaveLength(1);
    expect(uids(await get(doctor, `/dicom-web/studies?limit=1&offset=1`), '0020000D')).toHaveLength(1);
    expect(uids(await get(doctor, `/dicom-web/studies?offset=2`), '0020000D')).toEqual([]);
  });

  it('finds series and instances by Modality, SeriesInstanceUID and SOPInstanceUID', async () => {
    const series = await get(doctor, `/dicom-web/studies/${studyA}/series?Modality=CT&includefield=all`);
    expect(uids(series, '0020000E')).toEqual([seriesCt]);
    expect(value(series.json<Json[]>()[0]!, '00201209')).toBe(2);
    expect(uids(await get(doctor, `/dicom-web/series?SeriesInstanceUID=${seriesMr}`), '0020000E')).toEqual([seriesMr]);
    const inSeries = await get(doctor, `/dicom-web/studies/${studyA}/series/${seriesCt}/instances`);
    expect(uids(inSeries, '00080018')).toEqual([instances[0]!.sop, instances[1]!.sop].sort());
    const one = await get(doctor, `/dicom-web/instances?SOPInstanceUID=${instances[3]!.sop}`);
    expect(uids(one, '0020000D')).toEqual([studyB]);
    expect(one.json<Json[]>()[0]).toMatchObject({
      '00280010': { vr: 'US', Value: [32] },
      '00280008': { vr: 'IS', Value: [1] },
    });
    expect(uids(await get(doctor, `/dicom-web/studies/${studyB}/instances?Modality=CT`), '00080018')).toEqual([]);
  });

  it('ignores what it cannot match with a Warning, and refuses what it cannot parse', async () => {
    const byName = await get(doctor, '/dicom-web/studies?PatientName=Doe*');
    expect(byName.statusCode).toBe(200);
    expect(byName.headers.warning).toMatch(/PatientName is not supported.*encrypted/);
    const hostile = await get(doctor, '/dicom-web/studies?Foo%0d%0aX-Injected:%20yes=1');
    expect(hostile.statusCode).toBe(200);
    expect(hostile.headers.warning).toBe(
      '299 scanflow "The matching key (unreadable) is not supported and was ignored"',
    );
    expect(hostile.headers['x-injected']).toBeUndefined();
    const wildcard = await get(doctor, '/dicom-web/studies?PatientID=MRN*');
    expect(wildcard.statusCode).toBe(400);
    expect(wildcard.json().error.message).toMatch(/exactly/);
    expect((await get(doctor, '/dicom-web/studies?StudyDate=2024')).statusCode).toBe(400);
    expect((await get(doctor, '/dicom-web/studies?StudyInstanceUID=1.2.x')).statusCode).toBe(400);
    expect((await get(doctor, '/dicom-web/studies?limit=0')).statusCode).toBe(400);
    expect((await get(doctor, '/dicom-web/studies', 'image/png')).statusCode).toBe(406);
  });

  it("shows another organisation's user nothing, and a patient only their own", async () => {
    const theirs = await get(stranger, '/dicom-web/studies');
    expect(theirs.statusCode).toBe(200);
    expect(theirs.json()).toEqual([]);
    expect((await get(stranger, `/dicom-web/studies?StudyInstanceUID=${studyA}`)).json()).toEqual([]);
    expect((await get(patient, '/dicom-web/studies')).json()).toEqual([]);
    const own = related([{ bytes: dicomBytes({ attributes: { StudyInstanceUID: newUid() } }) }]);
    const stored = await t.app.inject({
      method: 'POST',
      url: '/dicom-web/studies',
      ...own,
      headers: { ...own.headers, ...bearer(patient) },
    });
    expect(stored.statusCode, stored.body).toBe(200);
    const mine = (await get(patient, '/dicom-web/studies')).json<Json[]>();
    expect(mine).toHaveLength(1);
    expect([studyA, studyB]).not.toContain(value(mine[0]!, '0020000D'));
    expect((await get(patient, `/dicom-web/studies?StudyInstanceUID=${studyA}`)).json()).toEqual([]);
  });
});

describe('WADO-RS', () => {
  const url = (i: (typeof instances)[number]) => `/dicom-web/studies/${i.study}/series/${i.series}/instances/${i.sop}`;

  it('returns each instance byte for byte as stored, one part per instance', async () => {
    const res = await get(doctor, url(instances[2]!), 'multipart/related; type="application/dicom"; transfer-syntax=*');
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^multipart\/related; type="application\/dicom"/);
    const [only] = parts(String(res.headers['content-type']), res.rawPayload);
    expect(only!.type).toBe('application/dicom; transfer-syntax=1.2.840.10008.1.2.1');
    expect(Buffer.compare(only!.body, instances[2]!.bytes)).toBe(0);
    const series = await get(doctor, `/dicom-web/studies/${studyA}/series/${seriesCt}`);
    const bodies = parts(String(series.headers['content-type']), series.rawPayload).map((p) => p.body);
    expect(bodies).toHaveLength(2);
    for (const i of instances.slice(0, 2)) expect(bodies.some((b) => Buffer.compare(b, i.bytes) === 0)).toBe(true);
    const study = await get(doctor, `/dicom-web/studies/${studyA}`);
    expect(parts(String(study.headers['content-type']), study.rawPayload)).toHaveLength(4);
    expect(
      (
        await get(
          doctor,
          url(instances[2]!),
          'multipart/related; type="application/dicom"; transfer-syntax=1.2.840.10008.1.2.4.50',
        )
      ).statusCode,
    ).toBe(406);
  });

  it('returns metadata as DICOM JSON that dcmjs naturalises and denaturalises', async () => {
    const res = await get(doctor, `${url(instances[3]!)}/metadata`, 'application/dicom+json');
    expect(res.statusCode).toBe(200);
    const [json] = res.json<Json[]>();
    expect(Object.keys(json!).every((k) => /^[0-9A-F]{8}$/.test(k))).toBe(true);
    expect(json!['7FE00010']?.BulkDataURI).toMatch(new RegExp(`${url(instances[3]!)}/frames/1$`));
    const natural = DicomMetaDictionary.naturalizeDataset(structuredClone(json));
    expect(natural).toMatchObject({
      SOPInstanceUID: instances[3]!.sop,
      StudyInstanceUID: studyB,
      PatientID: mrnB,
      Rows: 32,
      Columns: 32,
      BitsStored: 12,
      Modality: 'DX',
    });
    const again = DicomMetaDictionary.denaturalizeDataset(natural) as Json;
    expect(Object.keys(again).sort()).toEqual(Object.keys(json!).sort());
    const studyMetadata = await get(doctor, `/dicom-web/studies/${studyA}/metadata`);
    expect(studyMetadata.json()).toHaveLength(4);
  });

  it('returns frames as uncompressed little-endian bytes', async () => {
    const res = await get(
      doctor,
      `${url(instances[0]!)}/frames/1`,
      'multipart/related; type="application/octet-stream"',
    );
    expect(res.statusCode).toBe(200);
    const [frame] = parts(String(res.headers['content-type']), res.rawPayload);
    const expected = Buffer.alloc(32 * 32 * 2);
    for (let i = 0; i < 32 * 32; i++) expected.writeUInt16LE((i * 37) % 4096, i * 2);
    expect(Buffer.compare(frame!.body, expected)).toBe(0);
    const missing = await get(doctor, `${url(instances[0]!)}/frames/2`);
    expect(missing.statusCode).toBe(400);
    expect(missing.json().error.message).toMatch(/Frame 2 does not exist/);
    expect((await get(doctor, `${url(instances[0]!)}/frames/x`)).statusCode).toBe(400);
  });

  it('renders PNG and JPEG through the rendition service', async () => {
    const png = await get(doctor, `${url(instances[0]!)}/rendered?viewport=16,16`, 'image/png');
    expect(png.statusCode).toBe(200);
    expect(png.headers['content-type']).toBe('image/png');
    expect(await sharp(png.rawPayload).metadata()).toMatchObject({ format: 'png', width: 16, height: 16 });
    const jpeg = await get(doctor, `${url(instances[0]!)}/frames/1/rendered?window=2000,4000`);
    expect(jpeg.headers['content-type']).toBe('image/jpeg');
    expect(await sharp(jpeg.rawPayload).metadata()).toMatchObject({ format: 'jpeg', width: 32, height: 32 });
    expect((await get(doctor, `${url(instances[0]!)}/rendered?window=1,-1`)).statusCode).toBe(400);
  });

  it("answers 404 for another organisation's user and for a patient's view of someone else's study", async () => {
    for (const user of [stranger, patient]) {
      expect((await get(user, url(instances[0]!))).statusCode).toBe(404);
      expect((await get(user, `/dicom-web/studies/${studyA}`)).statusCode).toBe(404);
      expect((await get(user, `/dicom-web/studies/${studyA}/metadata`)).statusCode).toBe(404);
      expect((await get(user, `${url(instances[0]!)}/frames/1`)).statusCode).toBe(404);
      expect((await get(user, `${url(instances[0]!)}/rendered`)).statusCode).toBe(404);
    }
  });

  it('re-verifies the hash on every read: a changed blob answers 409 and flags the scan', async () => {
    const target = instances[3]!;
    const { rows } = await withSystem(t.ctx.db, (tx) =>
      tx.query<{ id: string; blob_sha256: string }>('SELECT id, blob_sha256 FROM scans WHERE sop_instance_uid = $1', [
        target.sop,
      ]),
    );
    const { id, blob_sha256: sha } = rows[0]!;
    tamperBlob(t, sha);
    const res = await get(doctor, url(target));
    expect(res.statusCode).toBe(409);
    expect(res.json().error.code).toBe('integrity_failure');
    expect((await get(doctor, `${url(target)}/metadata`)).statusCode).toBe(409);
    const flagged = await withSystem(t.ctx.db, (tx) =>
      tx.query<{ integrity: string }>('SELECT integrity FROM scans WHERE id = $1', [id]),
    );
    expect(flagged.rows[0]!.integrity).toBe('mismatch');
  });
});
