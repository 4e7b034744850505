/**
 * De-identified export (GET /api/v1/scans/{id}/export/deidentified) and `scanflow deidentify`:
 * the output is a valid Part 10 file by DCMTK (dcmftest, dcmdump) and holds no identifying value of
 * the original anywhere in its bytes, including nested sequences and private tags.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withSystem } from '../src/db/scope.ts';
import {
  bearer,
  createUser,
  multipart,
  runScanflow,
  startTestApp,
  tamperBlob,
  uniqueSlug,
  type TestApp,
  type TestUser,
} from './harness.ts';
import { dicomBytes, newUid, pngBytes } from './fixtures.ts';

const work = mkdtempSync(join(tmpdir(), 'scanflow-deid-'));

/** Identifying values placed at the top level, in nested sequences and in private tags. */
const SECRETS = {
  name: 'Holmes^Sherlock',
  id: 'PID-221B-BAKER',
  accession: 'ACC-99172',
  institution: 'Baker Street Clinic',
  referrer: 'Watson^John',
  operator: 'Lestrade^Inspector',
  station: 'XRAY-ROOM-7',
  comments: 'Patient seen by Dr Watson on Tuesday',
  nestedName: 'Hudson^Martha',
  nestedId: 'REQ-PROC-4411',
  privateValue: 'private-mycroft-value',
  nestedPrivate: 'nested-private-moriarty',
  birthDate: '19541106',
  studyUid: newUid(),
  seriesUid: newUid(),
  sopUid: newUid(),
};

function identifiable(attributes: Record<string, unknown> = {}): Buffer {
  return dicomBytes({
    sopInstanceUid: SECRETS.sopUid,
    patientId: SECRETS.id,
    patientName: SECRETS.name,
    attributes: {
      StudyInstanceUID: SECRETS.studyUid,
      SeriesInstanceUID: SECRETS.seriesUid,
      PatientBirthDate: SECRETS.birthDate,
      AccessionNumber: SECRETS.accession,
      InstitutionName: SECRETS.institution,
      ReferringPhysicianName: SECRETS.referrer,
      OperatorsName: SECRETS.operator,
      StationName: SECRETS.station,
      ImageComments: SECRETS.comments,
      StudyDate: '20240131',
      RequestAttributesSequence: [{ RequestedProcedureID: SECRETS.nestedId }],
      ReferencedImageSequence: [
        { ReferencedSOPClassUID: '1.2.840.10008.5.1.4.1.1.1.1', ReferencedSOPInstanceUID: SECRETS.sopUid },
      ],
      ...attributes,
    },
    raw: {
      '00090010': { vr: 'LO', Value: ['SHERLOCK PRIVATE'] },
      '00091001': { vr: 'LO', Value: [SECRETS.privateValue] },
      '00400260': {
        vr: 'SQ',
        Value: [
          {
            '00080100': { vr: 'SH', Value: ['X1'] },
            '0040A123': { vr: 'PN', Value: [{ Alphabetic: SECRETS.nestedName }] },
            '00190010': { vr: 'LO', Value: ['NESTED PRIVATE'] },
            '00191002': { vr: 'LO', Value: [SECRETS.nestedPrivate] },
          },
        ],
      },
    },
  });
}

/** Every secret must be gone from the bytes (Latin-1 covers the ASCII values written here). */
function expectNoSecrets(bytes: Buffer): void {
  const text = bytes.toString('latin1');
  for (const [what, value] of Object.entries(SECRETS)) expect(text, what).not.toContain(value);
}

function expectValidPart10(bytes: Buffer): string {
  const path = join(work, `check-${createHash('sha256').update(bytes).digest('hex').slice(0, 8)}.dcm`);
  writeFileSync(path, bytes);
  expect(execFileSync('dcmftest', [path]).toString()).toMatch(/^yes:/);
  // dcmdump exits non-zero on a malformed file; -q keeps only errors on stderr.
  return execFileSync('dcmdump', ['-q', path], { stdio: 'pipe' }).toString();
}

let t: TestApp;
let doctor: TestUser;
let patientOfDoctor: TestUser;
let scanId: string;

async function upload(user: TestUser, bytes: Buffer, name = 'x.dcm'): Promise<string> {
  const body = multipart([{ name, bytes }]);
  const res = await t.app.inject({
    method: 'POST',
    url: '/api/v1/scans',
    ...body,
    headers: { ...body.headers, ...bearer(user) },
  });
  expect(res.statusCode, res.body).toBe(201);
  return res.json().scans[0].id;
}

const exportOf = (user: TestUser, id: string, query = '') =>
  t.app.inject({ method: 'GET', url: `/api/v1/scans/${id}/export/deidentified${query}`, headers: bearer(user) });

beforeAll(async () => {
  t = await startTestApp();
  const org = uniqueSlug();
  doctor = await createUser(t, org, 'doctor');
  patientOfDoctor = await createUser(t, org, 'patient');
  scanId = await upload(doctor, identifiable());
});

afterAll(async () => {
  await t?.close();
  rmSync(work, { recursive: true, force: true });
});

describe('GET /api/v1/scans/{id}/export/deidentified', () => {
  it('answers a valid Part 10 file without any identifying value, and audits its hash', async () => {
    const res = await exportOf(doctor, scanId);
    expect(res.statusCode, res.body).toBe(200);
    expect(res.headers['content-type']).toBe('application/dicom');
    const bytes = res.rawPayload;
    const dump = expectValidPart10(bytes);
    expectNoSecrets(bytes);
    expect(dump).toMatch(/\(0012,0062\) CS \[YES\]/); // Patient Identity Removed
    expect(dump).toMatch(/\(0010,0020\) LO \[ANON-[0-9A-F]{12}\]/);
    const audit = await withSystem(t.ctx.db, (tx) =>
      tx.query<{ outcome: string; details: Record<string, unknown> }>(
        `SELECT outcome, details FROM audit_events WHERE action = 'scan.export_deidentified' AND resource_id = $1`,
        [scanId],
      ),
    );
    expect(audit.rows[0]).toMatchObject({
      outcome: 'success',
      details: { sha256: createHash('sha256').update(bytes).digest('hex'), burnedInOverride: false },
    });
    // The same organisation maps the same study the same way on every export (one study for the recipient).
    const again = await exportOf(doctor, scanId);
    expect(Buffer.compare(again.rawPayload, bytes)).toBe(0);
  });

  it('shifts dates when asked', async () => {
    const res = await exportOf(doctor, scanId, '?shiftDays=10');
    expect(res.statusCode).toBe(200);
    const dump = expectValidPart10(res.rawPayload);
    expect(dump).toMatch(/\(0008,0020\) DA \[20240210\]/);
    expect(dump).toMatch(/\(0012,0063\) LO \[PS3.15 Basic Profile, modified dates\]/);
    expectNoSecrets(res.rawPayload);
  });

  it('refuses burned-in annotation unless overridden, and then warns', async () => {
    const burned = await upload(doctor, identifiable({ SOPInstanceUID: newUid(), BurnedInAnnotation: 'YES' }));
    const refused = await exportOf(doctor, burned);
    expect(refused.statusCode).toBe(422);
    expect(refused.json().error.message).toMatch(/burned-in annotation.*allowBurnedIn=true/);
    const allowed = await exportOf(doctor, burned, '?allowBurnedIn=true');
    expect(allowed.statusCode).toBe(200);
    expect(allowed.headers.warning).toMatch(/^299 scanflow "Burned In Annotation is YES/);
    expectValidPart10(allowed.rawPayload);
  });

  it('is for doctors and administrators of the organisation only', async () => {
    const org = uniqueSlug();
    const [admin, pharmacist, patient, localDoctor] = await Promise.all([
      createUser(t, org, 'admin'),
      createUser(t, org, 'pharmacist'),
      createUser(t, org, 'patient'),
      createUser(t, org, 'doctor'),
    ]);
    const own = await upload(patient, dicomBytes());
    expect((await exportOf(localDoctor, own)).statusCode).toBe(200);
    expect((await exportOf(admin, own)).statusCode).toBe(200);
    expect((await exportOf(pharmacist, own)).statusCode).toBe(403);
    const byPatient = await exportOf(patient, own);
    expect(byPatient.statusCode).toBe(403);
    expect(byPatient.json().error.message).toMatch(/Download your own image/);
    expect((await exportOf(doctor, own)).statusCode).toBe(404); // another organisation
    expect((await exportOf(patient, scanId)).statusCode).toBe(404);
    const denied = await withSystem(t.ctx.db, (tx) =>
      tx.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM audit_events WHERE action = 'scan.export_deidentified' AND resource_id = $1 AND outcome = 'denied'`,
        [own],
      ),
    );
    expect(denied.rows[0]!.n).toBe(3); // pharmacist, patient, another organisation's doctor
  });

  it('refuses a scan whose integrity is mismatch (409), and non-DICOM scans (422)', async () => {
    const png = await upload(patientOfDoctor, await pngBytes(16, 16, 3), 'x.png');
    const notDicom = await exportOf(doctor, png);
    expect(notDicom.statusCode).toBe(422);
    expect(notDicom.json().error.message).toMatch(/DICOM scans/);
    const victim = await upload(doctor, identifiable({ SOPInstanceUID: newUid() }));
    const { rows } = await withSystem(t.ctx.db, (tx) =>
      tx.query<{ blob_sha256: string }>('SELECT blob_sha256 FROM scans WHERE id = $1', [victim]),
    );
    const sha = rows[0]!.blob_sha256;
    tamperBlob(t, sha);
    const first = await exportOf(doctor, victim);
    expect(first.statusCode).toBe(409); // detected on read, and flagged
    const second = await exportOf(doctor, victim);
    expect(second.statusCode).toBe(409);
    expect(second.json().error.message).toMatch(/integrity check; it cannot be exported/);
  });
});

// Each run starts a Node process that loads the CLI (seconds each on a busy machine).
describe('scanflow deidentify', { timeout: 180_000 }, () => {
  const cli = (args: string[], env: Record<string, string> = {}) => runScanflow(['deidentify', ...args], env);

  it('de-identifies files and folders offline into valid Part 10 files named by their new UIDs', async () => {
    const input = mkdtempSync(join(work, 'in-'));
    writeFileSync(join(input, `${SECRETS.name}.dcm`), identifiable());
    const second = identifiable({ SOPInstanceUID: newUid() });
    writeFileSync(join(work, 'second.dcm'), second);
    const out = join(work, 'out');
    const res = await cli(
      [input, join(work, 'second.dcm'), '--out', out, '--shift-dates=-3', '--uid-secret', 'a-secret-of-sixteen+'],
      {
        DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none', // proves no database is touched
      },
    );
    expect(res.stderr).toBe('');
    expect(res.code).toBe(0);
    expect(res.stdout).toMatch(/de-identified 2 of 2 file\(s\)/);
    const files = readdirSync(out).sort();
    expect(files).toHaveLength(2);
    for (const f of files) {
      expect(f).toMatch(/^2\.25\.\d+\.dcm$/);
      const bytes = readFileSync(join(out, f));
      const dump = expectValidPart10(bytes);
      expectNoSecrets(bytes);
      expect(dump).toMatch(/\(0008,0020\) DA \[20240128\]/);
    }
    // One secret, one mapping: both instances stay in one (remapped) study.
    const studies = files.map(
      (f) => /\(0020,000d\) UI \[([^\]]+)\]/.exec(execFileSync('dcmdump', [join(out, f)]).toString())?.[1],
    );
    expect(new Set(studies).size).toBe(1);
  });

  it('reports bad input clearly with a non-zero exit, and still does the rest', async () => {
    const out = join(work, 'out-bad');
    writeFileSync(join(work, 'not-dicom.dcm'), 'this is not a DICOM file');
    writeFileSync(join(work, 'burned.dcm'), identifiable({ SOPInstanceUID: newUid(), BurnedInAnnotation: 'YES' }));
    writeFileSync(join(work, 'good.dcm'), identifiable({ SOPInstanceUID: newUid() }));
    const res = await cli([
      join(work, 'not-dicom.dcm'),
      join(work, 'burned.dcm'),
      join(work, 'good.dcm'),
      '--out',
      out,
    ]);
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/not-dicom\.dcm: .*not/i);
    expect(res.stderr).toMatch(/burned\.dcm: .*burned-in annotation.*--allow-burned-in/);
    expect(res.stdout).toMatch(/de-identified 1 of 3 file\(s\)/);
    expect(readdirSync(out)).toHaveLength(1);
    const usage = await cli([join(work, 'good.dcm')]);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toMatch(/--out DIR is required/);
    const missing = await cli([join(work, 'nope.dcm'), '--out', out]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/nope\.dcm: no such file or folder/);
    expect((await cli([join(work, 'good.dcm'), '--out', out, '--shift-dates', 'soon'])).code).toBe(2);
  });
});
