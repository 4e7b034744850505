/**
 * The DICOM listener against real peers: DCMTK's echoscu and storescu, raw sockets that send
 * garbage, and an Orthanc server forwarding to Scanflow.
 */
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDicomListener, type DicomListener } from '../src/dicom/listener.ts';
import { bearer, createUser, multipart, startTestApp, uniqueSlug, type TestApp, type TestUser } from './harness.ts';
import { dicomBytes, newUid } from './fixtures.ts';
import { startOrthanc } from './orthanc.ts';

let t: TestApp;
let listener: DicomListener;
let work: string;
const quiet = { info: () => undefined, error: () => undefined };

beforeAll(async () => {
  t = await startTestApp({ MAX_UPLOAD_BYTES: String(4 * 1024 * 1024) });
  listener = await startDicomListener(t.ctx, quiet, { port: 0 });
  work = mkdtempSync(join(tmpdir(), 'scanflow-dimse-'));
});
afterAll(async () => {
  await listener?.close();
  await t?.close();
  if (work) rmSync(work, { recursive: true, force: true });
});

interface Run {
  code: number;
  output: string;
}

/** Runs a DCMTK tool; resolves with its exit code and combined output (never throws). */
function dcmtk(tool: string, args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(tool, args, { timeout: 30_000 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
      resolve({ code, output: `${stdout}${stderr}` });
    });
  });
}

const uniqueAe = () => `T${randomBytes(5).toString('hex').toUpperCase()}`;

async function echo(callingAe: string, calledAe = 'SCANFLOW'): Promise<Run> {
  return dcmtk('echoscu', ['-aet', callingAe, '-aec', calledAe, '127.0.0.1', String(listener.port)]);
}

async function store(callingAe: string, files: string[], extra: string[] = []): Promise<Run> {
  return dcmtk('storescu', [
    '-v',
    ...extra,
    '-aet',
    callingAe,
    '-aec',
    'SCANFLOW',
    '127.0.0.1',
    String(listener.port),
    ...files,
  ]);
}

function writeFile(name: string, bytes: Buffer): string {
  const path = join(work, name);
  writeFileSync(path, bytes);
  return path;
}

/** An organisation with an admin who accepts one calling AE title through the admin API. */
async function organisationWithPeer(addresses?: string[]): Promise<{ admin: TestUser; ae: string; peerId: string }> {
  const admin = await createUser(t, uniqueSlug('pacs'), 'admin');
  const ae = uniqueAe();
  const res = await t.app.inject({
    method: 'POST',
    url: '/api/v1/admin/dicom-peers',
    headers: bearer(admin),
    payload: { aeTitle: ae, ...(addresses ? { addresses } : {}) },
  });
  expect(res.statusCode, res.body).toBe(201);
  return { admin, ae, peerId: res.json().id };
}

async function scansOf(orgId: string) {
  const { rows } = await t.ctx.db.query<{
    id: string;
    patient_id: string;
    source: string;
    status: string;
    blob_sha256: string;
    sop_instance_uid: string;
    dicom: Record<string, string>;
  }>(
    'SELECT id, patient_id, source, status, blob_sha256, sop_instance_uid, dicom FROM scans WHERE org_id = $1 ORDER BY received_at',
    [orgId],
  );
  return rows;
}

async function auditOf(orgId: string, action: string) {
  const { rows } = await t.ctx.db.query<{
    outcome: string;
    resource_id: string | null;
    reason: string | null;
    details: Record<string, unknown> | null;
    actor_role: string | null;
  }>(
    'SELECT outcome, resource_id, reason, details, actor_role FROM audit_events WHERE org_id = $1 AND action = $2 ORDER BY seq',
    [orgId, action],
  );
  return rows;
}

function blobFiles(): string[] {
  return readdirSync(join(t.dataDir, 'blobs'), { recursive: true })
    .map(String)
    .filter((f) => /[0-9a-f]{64}$/.test(f));
}

describe('association', () => {
  it('answers C-ECHO from an accepted calling AE title', async () => {
    const { ae, admin } = await organisationWithPeer();
    const run = await echo(ae);
    expect(run.code, run.output).toBe(0);
    const events = await auditOf(admin.orgId, 'dicom.associate');
    expect(events.at(-1)).toMatchObject({ outcome: 'success', details: { callingAe: ae, calledAe: 'SCANFLOW' } });
  });

  it('rejects an unknown calling AE title, a wrong called AE title and a listed title from another address', async () => {
    const unknown = await echo(uniqueAe());
    expect(unknown.code).not.toBe(0);
    expect(unknown.output).toMatch(/Association Rejected/i);
    expect(unknown.output).toMatch(/Calling AE Title Not Recognized/i);

    const { ae, admin } = await organisationWithPeer();
    const wrongCalled = await echo(ae, 'NOTSCANFLOW');
    expect(wrongCalled.code).not.toBe(0);
    expect(wrongCalled.output).toMatch(/Called AE Title Not Recognized/i);

    const fenced = await organisationWithPeer(['10.20.30.40']);
    const fromHere = await echo(fenced.ae);
    expect(fromHere.code).not.toBe(0);
    expect(fromHere.output).toMatch(/Calling AE Title Not Recognized/i);
    const denied = await auditOf(fenced.admin.orgId, 'dicom.associate');
    expect(denied.at(-1)).toMatchObject({ outcome: 'denied' });

    // The same title from an allowed address is fine.
    const local = await organisationWithPeer(['127.0.0.1']);
    expect((await echo(local.ae)).code).toBe(0);
    expect(admin.orgId).not.toBe(local.admin.orgId);
  });

  it('survives garbage, lying lengths and dropped connections, and keeps serving', async () => {
    const send = (bytes: Buffer, end = true) =>
      new Promise<Buffer>((resolve) => {
        const socket = connect(listener.port, '127.0.0.1');
        const received: Buffer[] = [];
        socket.on('data', (chunk) => received.push(chunk));
        socket.on('error', () => undefined);
        socket.on('close', () => resolve(Buffer.concat(received)));
        socket.on('connect', () => {
          socket.write(bytes);
          if (end) socket.end();
          else setTimeout(() => socket.destroy(), 50);
        });
      });
    // Random bytes: an unknown PDU type is answered with A-ABORT (type 7).
    const garbage = await send(Buffer.concat([Buffer.from([0x09, 0]), randomBytes(4096)]));
    expect(garbage[0]).toBe(0x07);
    // An A-ASSOCIATE-RQ that claims 4 GiB.
    const huge = await send(Buffer.from([0x01, 0, 0xff, 0xff, 0xff, 0xff, 0, 1]));
    expect(huge[0]).toBe(0x07);
    // A well-sized A-ASSOCIATE-RQ whose items lie about their lengths.
    const body = Buffer.alloc(80);
    body.writeUInt16BE(1, 0);
    body.write('SCANFLOW        ', 4, 'latin1');
    body.write('LIAR            ', 20, 'latin1');
    body[68] = 0x10;
    body.writeUInt16BE(60_000, 70);
    const header = Buffer.from([0x01, 0, 0, 0, 0, body.length]);
    const lying = await send(Buffer.concat([header, body]));
    expect(lying[0]).toBe(0x07);
    // Half a PDU, then the connection drops.
    await send(Buffer.from([0x01, 0, 0, 0, 1, 0, 0, 1, 0]), false);
    for (let i = 0; i < 20; i++) await send(randomBytes(1 + ((i * 97) % 700)), i % 2 === 0);

    const { ae } = await organisationWithPeer();
    expect((await echo(ae)).code).toBe(0);
  });
});

describe('C-STORE', () => {
  it('makes a scan exactly as an upload does, matched by Patient ID, study/series/instance kept', async () => {
    const { ae, admin } = await organisationWithPeer();
    const doctor = await createUser(t, (await orgSlug(admin.orgId))!, 'doctor');
    const mrn = `MRN-${randomBytes(4).toString('hex')}`;
    // The patient first arrives by upload; the network instance must find the same record.
    const first = multipart([
      { name: 'first.dcm', bytes: dicomBytes({ patientId: mrn, patientName: 'Network^Test' }) },
    ]);
    const uploaded = await t.app.inject({
      method: 'POST',
      url: '/api/v1/scans',
      payload: first.payload,
      headers: { ...first.headers, ...bearer(doctor) },
    });
    expect(uploaded.statusCode, uploaded.body).toBe(201);

    const sop = newUid();
    const bytes = dicomBytes({
      patientId: mrn,
      patientName: 'Network^Test',
      sopInstanceUid: sop,
      rows: 64,
      columns: 48,
    });
    const file = writeFile(`${sop}.dcm`, bytes);
    const run = await store(ae, [file]);
    expect(run.code, run.output).toBe(0);
    expect(run.output).toMatch(/Received Store Response \(Success\)/i);

    const scans = await scansOf(admin.orgId);
    expect(scans).toHaveLength(2);
    const [byUpload, byNetwork] = scans;
    expect(byNetwork).toMatchObject({ source: 'dicom', status: 'PENDING_AI', sop_instance_uid: sop });
    expect(byNetwork!.patient_id).toBe(byUpload!.patient_id);
    const header = readTags(bytes);
    expect(byNetwork!.dicom).toMatchObject({
      sopInstanceUid: sop,
      studyInstanceUid: header.study,
      seriesInstanceUid: header.series,
      modality: 'DX',
    });

    // Stored encrypted, addressed by the SHA-256 of what it decrypts to, which holds the data set
    // exactly as sent.
    const stored = await t.ctx.blobs.get(byNetwork!.blob_sha256);
    expect(createHash('sha256').update(stored).digest('hex')).toBe(byNetwork!.blob_sha256);
    expect(stored.subarray(128, 132).toString('latin1')).toBe('DICM');
    expect(stored.includes(bytes.subarray(bytes.indexOf(Buffer.from(mrn))))).toBe(true);
    const raw = readFileSync(
      join(
        t.dataDir,
        'blobs',
        blobFiles().find((f) => f.endsWith(byNetwork!.blob_sha256))!,
      ),
    );
    expect(raw.includes(Buffer.from(mrn))).toBe(false);

    // Queued for the AI pre-read, with its timeline and audit events.
    const jobs = await t.ctx.db.query<{ kind: string }>(`SELECT kind FROM jobs WHERE payload->>'scanId' = $1`, [
      byNetwork!.id,
    ]);
    expect(jobs.rows.map((j) => j.kind)).toEqual(['ai_preread']);
    const events = await t.ctx.db.query<{ to_status: string; actor_role: string }>(
      'SELECT to_status, actor_role FROM scan_events WHERE scan_id = $1',
      [byNetwork!.id],
    );
    expect(events.rows).toEqual([{ to_status: 'PENDING_AI', actor_role: 'system' }]);
    const audit = (await auditOf(admin.orgId, 'scan.ingest')).find((e) => e.resource_id === byNetwork!.id);
    expect(audit).toMatchObject({
      outcome: 'success',
      actor_role: 'system',
      details: { source: 'dimse', callingAe: ae, sopInstanceUid: sop, sha256: byNetwork!.blob_sha256 },
    });

    // The doctor sees it in the case view like any upload.
    const detail = await t.app.inject({
      method: 'GET',
      url: `/api/v1/scans/${byNetwork!.id}`,
      headers: bearer(doctor),
    });
    expect(detail.statusCode, detail.body).toBe(200);
    expect(detail.json()).toMatchObject({ source: 'dicom', patient: { name: 'Network^Test' }, width: 48, height: 64 });
  });

  it('creates the patient from the header when the Patient ID is new, and a resend does not duplicate', async () => {
    const { ae, admin } = await organisationWithPeer();
    const mrn = `NEW-${randomBytes(4).toString('hex')}`;
    const files = [0, 1, 2].map((i) => writeFile(`new-${mrn}-${i}.dcm`, dicomBytes({ patientId: mrn })));
    expect((await store(ae, files)).code).toBe(0);
    const before = await scansOf(admin.orgId);
    expect(before).toHaveLength(3);
    expect(new Set(before.map((s) => s.patient_id)).size).toBe(1);
    const blobsBefore = blobFiles().length;

    // The same SOP instances again (a PACS retrying): success for the sender, nothing new stored.
    const again = await store(ae, files);
    expect(again.code, again.output).toBe(0);
    expect(again.output.match(/Received Store Response \(Success\)/gi)).toHaveLength(3);
    expect(await scansOf(admin.orgId)).toHaveLength(3);
    expect(blobFiles().length).toBe(blobsBefore);

    const patient = await t.ctx.db.query<{ name_enc: Uint8Array; mrn_enc: Uint8Array }>(
      'SELECT name_enc, mrn_enc FROM patients WHERE id = $1',
      [before[0]!.patient_id],
    );
    expect(t.ctx.cipher.decrypt(Buffer.from(patient.rows[0]!.mrn_enc))).toBe(mrn);
    expect(t.ctx.cipher.decrypt(Buffer.from(patient.rows[0]!.name_enc))).toBe('Synthetic^Phantom');
  });

  it('answers a broken instance with a failure status, stores nothing, audits why, and carries on', async () => {
    const { ae, admin } = await organisationWithPeer();
    // A header that promises more pixels than the data set carries.
    const broken = dicomBytes({ rows: 32, columns: 32 });
    const rows = findUs(broken, 0x0028, 0x0010);
    broken.writeUInt16LE(512, rows);
    const good = dicomBytes();
    const blobsBefore = blobFiles().length;
    const run = await store(ae, [writeFile('broken.dcm', broken), writeFile('good-after.dcm', good)], ['--no-halt']);
    expect(run.output).toMatch(/Received Store Response \(Error: CannotUnderstand\)/);
    expect(run.output).toMatch(/Received Store Response \(Success\)/i);
    const scans = await scansOf(admin.orgId);
    expect(scans).toHaveLength(1);
    expect(blobFiles().length).toBe(blobsBefore + 1);
    const failures = (await auditOf(admin.orgId, 'scan.ingest')).filter((e) => e.outcome === 'failure');
    expect(failures).toHaveLength(1);
    expect(failures[0]!.reason).toMatch(/truncated/i);
  });

  it('refuses an instance larger than MAX_UPLOAD_BYTES with "out of resources", and the association goes on', async () => {
    const { ae, admin } = await organisationWithPeer();
    // 1,500 × 1,500 × 2 bytes: more than the 4 MiB this test server accepts.
    const large = writeFile('large.dcm', dicomBytes({ rows: 1500, columns: 1500 }));
    const run = await store(ae, [large, writeFile('small-after.dcm', dicomBytes())], ['--no-halt']);
    expect(run.output).toMatch(/Received Store Response \(Refused: OutOfResources\)/);
    expect(run.output).toMatch(/Received Store Response \(Success\)/);
    expect(await scansOf(admin.orgId)).toHaveLength(1);
  });

  it('serves several associations at once, including two senders racing with the same instances', async () => {
    const { ae, admin } = await organisationWithPeer();
    const shared = [0, 1, 2].map((i) => writeFile(`shared-${ae}-${i}.dcm`, dicomBytes({ patientId: `RACE-${ae}` })));
    const own = [0, 1, 2].map((i) => writeFile(`own-${ae}-${i}.dcm`, dicomBytes()));
    const runs = await Promise.all([store(ae, [...shared, own[0]!]), store(ae, [...shared, own[1]!, own[2]!])]);
    for (const run of runs) expect(run.code, run.output).toBe(0);
    const scans = await scansOf(admin.orgId);
    expect(scans).toHaveLength(6);
    expect(new Set(scans.map((s) => s.sop_instance_uid)).size).toBe(6);
  });
});

describe('Orthanc forwarding to Scanflow', () => {
  it('stores what Orthanc sends with C-STORE, and a second forward of the same instance does not duplicate', async () => {
    const { ae, admin } = await organisationWithPeer();
    // Orthanc calls with its own AE title, which the organisation accepts.
    const orthanc = await startOrthanc({
      aeTitle: ae,
      modalities: { scanflow: ['SCANFLOW', '127.0.0.1', listener.port] },
    });
    try {
      const sop = newUid();
      const mrn = `ORT-${randomBytes(4).toString('hex')}`;
      const { ID: id } = (await orthanc.rest(
        'POST',
        '/instances',
        dicomBytes({ patientId: mrn, sopInstanceUid: sop }),
      )) as {
        ID: string;
      };
      await orthanc.rest('POST', '/modalities/scanflow/echo', {});
      const forward = () => orthanc.rest('POST', '/modalities/scanflow/store', { Resources: [id], Synchronous: true });
      expect(await forward()).toMatchObject({ FailedInstancesCount: 0, InstancesCount: 1 });
      const scans = await scansOf(admin.orgId);
      expect(scans).toEqual([
        expect.objectContaining({ source: 'dicom', status: 'PENDING_AI', sop_instance_uid: sop }),
      ]);
      const stored = await t.ctx.blobs.get(scans[0]!.blob_sha256);
      expect(stored.includes(Buffer.from(mrn))).toBe(true);

      expect(await forward()).toMatchObject({ FailedInstancesCount: 0, InstancesCount: 1 });
      expect(await scansOf(admin.orgId)).toHaveLength(1);
    } finally {
      await orthanc.stop();
    }
  }, 90_000);
});

describe('admin API for DICOM peers', () => {
  it('lists, adds and removes accepted AE titles; only admins; one organisation per title; audited', async () => {
    const { admin, ae, peerId } = await organisationWithPeer();
    const list = await t.app.inject({ method: 'GET', url: '/api/v1/admin/dicom-peers', headers: bearer(admin) });
    expect(list.statusCode).toBe(200);
    expect(list.json().items).toEqual([expect.objectContaining({ id: peerId, aeTitle: ae, addresses: [] })]);

    const doctor = await createUser(t, (await orgSlug(admin.orgId))!, 'doctor');
    const refused = await t.app.inject({
      method: 'POST',
      url: '/api/v1/admin/dicom-peers',
      headers: bearer(doctor),
      payload: { aeTitle: uniqueAe() },
    });
    expect(refused.statusCode).toBe(403);

    const other = await createUser(t, uniqueSlug('other'), 'admin');
    const taken = await t.app.inject({
      method: 'POST',
      url: '/api/v1/admin/dicom-peers',
      headers: bearer(other),
      payload: { aeTitle: ae },
    });
    expect(taken.statusCode).toBe(409);
    for (const payload of [{ aeTitle: 'BACK\\SLASH' }, { aeTitle: 'OK', addresses: ['not-an-ip'] }]) {
      const bad = await t.app.inject({
        method: 'POST',
        url: '/api/v1/admin/dicom-peers',
        headers: bearer(admin),
        payload,
      });
      expect(bad.statusCode, JSON.stringify(payload)).toBe(400);
      expect(bad.json().error.code).toBe('validation_failed');
    }
    // Another organisation's admin cannot remove it.
    const foreign = await t.app.inject({
      method: 'DELETE',
      url: `/api/v1/admin/dicom-peers/${peerId}`,
      headers: bearer(other),
    });
    expect(foreign.statusCode).toBe(404);

    expect((await echo(ae)).code).toBe(0);
    const removed = await t.app.inject({
      method: 'DELETE',
      url: `/api/v1/admin/dicom-peers/${peerId}`,
      headers: bearer(admin),
    });
    expect(removed.statusCode).toBe(204);
    expect((await echo(ae)).code).not.toBe(0);

    const actions = await t.ctx.db.query<{ action: string; outcome: string }>(
      `SELECT action, outcome FROM audit_events WHERE org_id = $1 AND action LIKE 'dicom_peer.%' ORDER BY seq`,
      [admin.orgId],
    );
    expect(actions.rows).toEqual([
      { action: 'dicom_peer.add', outcome: 'success' },
      { action: 'dicom_peer.list', outcome: 'success' },
      { action: 'dicom_peer.add', outcome: 'denied' },
      { action: 'dicom_peer.add', outcome: 'failure' },
      { action: 'dicom_peer.add', outcome: 'failure' },
      { action: 'dicom_peer.remove', outcome: 'success' },
    ]);
  });
});

async function orgSlug(orgId: string): Promise<string | undefined> {
  const { rows } = await t.ctx.db.query<{ slug: string }>('SELECT slug FROM organisations WHERE id = $1', [orgId]);
  return rows[0]?.slug;
}

/** The offset of a US element's value in an explicit VR little endian file. */
function findUs(bytes: Buffer, group: number, element: number): number {
  const tag = Buffer.alloc(6);
  tag.writeUInt16LE(group, 0);
  tag.writeUInt16LE(element, 2);
  tag.write('US', 4, 'latin1');
  const at = bytes.indexOf(tag, 132);
  if (at < 0) throw new Error('element not found');
  return at + 8;
}

function readTags(bytes: Buffer): { study: string; series: string } {
  const ui = (element: number) => {
    const tag = Buffer.alloc(6);
    tag.writeUInt16LE(0x0020, 0);
    tag.writeUInt16LE(element, 2);
    tag.write('UI', 4, 'latin1');
    const at = bytes.indexOf(tag, 132);
    const length = bytes.readUInt16LE(at + 6);
    return bytes.toString('latin1', at + 8, at + 8 + length).replace(/\0+$/, '');
  };
  return { study: ui(0x000d), series: ui(0x000e) };
}
