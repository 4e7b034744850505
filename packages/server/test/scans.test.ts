import { readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { recordAiResult } from '../src/services/scan-service.ts';
import type { AiResult } from '../src/repositories/scans.ts';
import {
  bearer,
  createUser,
  multipart,
  startTestApp,
  tamperBlob,
  uniqueSlug,
  type TestApp,
  type TestUser,
} from './harness.ts';
import { dicomBytes, jpegBytes, pngBytes } from './fixtures.ts';

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp({ MAX_UPLOAD_BYTES: String(2 * 1024 * 1024), MAX_IMAGE_DIMENSION: '4096' });
});
afterAll(async () => t?.close());

const aiResult = (priorityScore: number): AiResult => ({
  model: { name: 'test-model', version: '0.0.1' },
  labels: [{ id: 'nodule', display: 'Nodule', probability: priorityScore }],
  topFinding: { id: 'nodule', display: 'Nodule', probability: priorityScore },
  uncertain: priorityScore < 0.75,
  priorityScore,
  priority: priorityScore > 0.85 ? 'HIGH' : 'ROUTINE',
  disclaimer: 'Decision support only; not a diagnosis.',
});

async function upload(user: TestUser, files: { name: string; bytes: Buffer }[], fields: Record<string, string> = {}) {
  const body = multipart(files, fields);
  return t.app.inject({
    method: 'POST',
    url: '/api/v1/scans',
    payload: body.payload,
    headers: { ...body.headers, ...bearer(user) },
  });
}

function blobCount(): number {
  const root = join(t.dataDir, 'blobs');
  try {
    return readdirSync(root, { recursive: true }).filter((f) => String(f).length > 60 && !String(f).endsWith('.tmp'))
      .length;
  } catch {
    return 0;
  }
}

async function scanCount(orgId: string): Promise<number> {
  const { rows } = await t.ctx.db.query<{ n: number }>('SELECT count(*)::int AS n FROM scans WHERE org_id = $1', [
    orgId,
  ]);
  return Number(rows[0]!.n);
}

describe('upload', () => {
  it('stores PNG, JPEG and DICOM encrypted, content-addressed and hashed, starting in PENDING_AI', async () => {
    const patient = await createUser(t, uniqueSlug(), 'patient');
    const png = await pngBytes(80, 60);
    const res = await upload(patient, [
      { name: 'chest.png', bytes: png },
      { name: 'knee.jpg', bytes: await jpegBytes() },
      { name: 'ct.dcm', bytes: dicomBytes() },
    ]);
    expect(res.statusCode, res.body).toBe(201);
    const scans = res.json().scans as { id: string; status: string; format: string; width: number; sha256: string }[];
    expect(scans.map((s) => s.format)).toEqual(['png', 'jpeg', 'dicom']);
    expect(scans.every((s) => s.status === 'PENDING_AI')).toBe(true);
    expect(scans[0]!.width).toBe(80);

    // The bytes come back identical, and are not stored in clear.
    const image = await t.app.inject({
      method: 'GET',
      url: `/api/v1/scans/${scans[0]!.id}/image`,
      headers: bearer(patient),
    });
    expect(image.statusCode).toBe(200);
    expect(image.headers['content-type']).toBe('image/png');
    expect(image.rawPayload.equals(png)).toBe(true);
    const sha = scans[0]!.sha256;
    const stored = readdirSync(join(t.dataDir, 'blobs', sha.slice(0, 2), sha.slice(2, 4)));
    expect(stored).toEqual([sha]);
    const { readFileSync } = await import('node:fs');
    const onDisk = readFileSync(join(t.dataDir, 'blobs', sha.slice(0, 2), sha.slice(2, 4), sha));
    expect(onDisk.includes(png.subarray(16, 64))).toBe(false);
  });

  it('matches a DICOM upload by a clinician to the patient by Patient ID, and refuses a duplicate instance', async () => {
    const org = uniqueSlug();
    const doctor = await createUser(t, org, 'doctor');
    const file = dicomBytes({ patientId: 'MRN-42' });
    const first = await upload(doctor, [{ name: 'a.dcm', bytes: file }]);
    expect(first.statusCode, first.body).toBe(201);
    const second = await upload(doctor, [{ name: 'b.dcm', bytes: dicomBytes({ patientId: 'MRN-42' }) }]);
    expect(second.json().scans[0].patient.id).toBe(first.json().scans[0].patient.id);
    const again = await upload(doctor, [{ name: 'a.dcm', bytes: file }]);
    expect(again.statusCode).toBe(409);
  });

  it.each([
    ['a text file renamed .png', 'notes.png', Buffer.from('hello, this is not an image at all'), 415],
    ['an empty file', 'empty.dcm', Buffer.alloc(0), 400],
    ['a truncated PNG', 'cut.png', Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0]), 422],
  ])('refuses %s with a 4xx naming the file, storing nothing', async (_what, name, bytes, status) => {
    const patient = await createUser(t, uniqueSlug(), 'patient');
    const blobsBefore = blobCount();
    const res = await upload(patient, [{ name, bytes }]);
    expect(res.statusCode).toBe(status);
    expect(res.json().error.message).toContain(name);
    expect(await scanCount(patient.orgId)).toBe(0);
    expect(blobCount()).toBe(blobsBefore);
  });

  it('refuses oversized files (413) and images with absurd dimensions before decoding them', async () => {
    const patient = await createUser(t, uniqueSlug(), 'patient');
    const big = Buffer.concat([await pngBytes(), Buffer.alloc(3 * 1024 * 1024)]);
    const res = await upload(patient, [{ name: 'big.png', bytes: big }]);
    expect(res.statusCode).toBe(413);
    // A PNG header that claims 100000 × 100000 pixels.
    const bomb = await pngBytes(8, 8);
    bomb.writeUInt32BE(100_000, 16);
    bomb.writeUInt32BE(100_000, 20);
    const bombRes = await upload(patient, [{ name: 'bomb.png', bytes: bomb }]);
    expect(bombRes.statusCode).toBe(413);
    expect(await scanCount(patient.orgId)).toBe(0);
  });

  it('stores all files or none: one bad file in a batch leaves no row and no new blob', async () => {
    const patient = await createUser(t, uniqueSlug(), 'patient');
    const blobsBefore = blobCount();
    const res = await upload(patient, [
      { name: 'good.png', bytes: await pngBytes(32, 32, 99) },
      { name: 'bad.tif', bytes: Buffer.from('II*\0 garbage') },
    ]);
    expect(res.statusCode).toBeGreaterThanOrEqual(400);
    expect(res.statusCode).toBeLessThan(500);
    expect(await scanCount(patient.orgId)).toBe(0);
    expect(blobCount()).toBe(blobsBefore);
  });

  it('never uses the given file name as a path', async () => {
    const patient = await createUser(t, uniqueSlug(), 'patient');
    const res = await upload(patient, [{ name: '../../../../etc/passwd.png', bytes: await pngBytes(16, 16, 5) }]);
    expect(res.statusCode).toBe(201);
    const detail = await t.app.inject({
      method: 'GET',
      url: `/api/v1/scans/${res.json().scans[0].id}`,
      headers: bearer(patient),
    });
    expect(detail.json().originalName).toBe('passwd.png');
    const image = await t.app.inject({
      method: 'GET',
      url: `/api/v1/scans/${res.json().scans[0].id}/image`,
      headers: bearer(patient),
    });
    expect(image.headers['content-disposition']).toMatch(/filename="scan-[0-9a-f-]+\.png"/);
  });

  it('requires multipart and at least one file', async () => {
    const patient = await createUser(t, uniqueSlug(), 'patient');
    const json = await t.app.inject({
      method: 'POST',
      url: '/api/v1/scans',
      payload: { x: 1 },
      headers: bearer(patient),
    });
    expect(json.statusCode).toBe(415);
    const empty = await upload(patient, []);
    expect(empty.statusCode).toBe(400);
  });
});

describe('display renditions', () => {
  it('renders a DICOM scan as an 8-bit PNG: full size, thumbnail, and a chosen window', async () => {
    const patient = await createUser(t, uniqueSlug(), 'patient');
    const res = await upload(patient, [{ name: 'ct.dcm', bytes: dicomBytes({ rows: 64, columns: 48 }) }]);
    const id = res.json().scans[0].id as string;
    const full = await t.app.inject({ method: 'GET', url: `/api/v1/scans/${id}/rendition`, headers: bearer(patient) });
    expect(full.statusCode, full.body).toBe(200);
    expect(full.headers['content-type']).toBe('image/png');
    expect(full.rawPayload.subarray(1, 4).toString()).toBe('PNG');
    expect([full.headers['x-image-width'], full.headers['x-image-height']]).toEqual(['48', '64']);
    const thumb = await t.app.inject({
      method: 'GET',
      url: `/api/v1/scans/${id}/rendition?maxSize=16`,
      headers: bearer(patient),
    });
    expect(thumb.headers['x-image-height']).toBe('16');
    const windowed = await t.app.inject({
      method: 'GET',
      url: `/api/v1/scans/${id}/rendition?wc=100&ww=50`,
      headers: bearer(patient),
    });
    expect(windowed.headers['x-window-source']).toBe('request');
    expect(windowed.rawPayload.equals(full.rawPayload)).toBe(false);
    const noFrame = await t.app.inject({
      method: 'GET',
      url: `/api/v1/scans/${id}/rendition?frame=3`,
      headers: bearer(patient),
    });
    expect(noFrame.statusCode).toBe(400);
    const half = await t.app.inject({
      method: 'GET',
      url: `/api/v1/scans/${id}/rendition?wc=100`,
      headers: bearer(patient),
    });
    expect(half.statusCode).toBe(400);
    const other = await createUser(t, uniqueSlug(), 'doctor');
    expect(
      (await t.app.inject({ method: 'GET', url: `/api/v1/scans/${id}/rendition`, headers: bearer(other) })).statusCode,
    ).toBe(404);
  });
});

describe('integrity', () => {
  it('re-checks the SHA-256 on every read and flags a scan whose bytes changed', async () => {
    const org = uniqueSlug();
    const patient = await createUser(t, org, 'patient');
    const res = await upload(patient, [{ name: 'x.png', bytes: await pngBytes(20, 20, 7) }]);
    const { id, sha256 } = res.json().scans[0];
    tamperBlob(t, sha256);
    const read = await t.app.inject({ method: 'GET', url: `/api/v1/scans/${id}/image`, headers: bearer(patient) });
    expect(read.statusCode).toBe(409);
    expect(read.json().error.code).toBe('integrity_failure');
    const detail = await t.app.inject({ method: 'GET', url: `/api/v1/scans/${id}`, headers: bearer(patient) });
    expect(detail.json().integrity).toBe('mismatch');
    rmSync(join(t.dataDir, 'blobs', sha256.slice(0, 2), sha256.slice(2, 4), sha256));
    const missing = await t.app.inject({ method: 'GET', url: `/api/v1/scans/${id}/image`, headers: bearer(patient) });
    expect(missing.statusCode).toBe(409);
  });
});

describe('lifecycle and worklists', () => {
  async function caseReadyForDoctor(org: string, priorityScore = 0.5) {
    const patient = await createUser(t, org, 'patient');
    const res = await upload(patient, [
      { name: 'c.png', bytes: await pngBytes(24, 24, Math.floor(Math.random() * 1e6)) },
    ]);
    const scan = res.json().scans[0];
    await recordAiResult(t.ctx, { orgId: patient.orgId, scanId: scan.id }, aiResult(priorityScore));
    return { patient, id: scan.id as string };
  }

  const transition = (user: TestUser, id: string, body: Record<string, unknown>) =>
    t.app.inject({ method: 'POST', url: `/api/v1/scans/${id}/transitions`, payload: body, headers: bearer(user) });

  it('carries a case from upload to REPORT_READY, each step by its role, with a timeline', async () => {
    const org = uniqueSlug();
    const [doctor, pharmacist, admin] = await Promise.all([
      createUser(t, org, 'doctor'),
      createUser(t, org, 'pharmacist'),
      createUser(t, org, 'admin'),
    ]);
    const { patient, id } = await caseReadyForDoctor(org, 0.9);

    const worklist = await t.app.inject({ method: 'GET', url: '/api/v1/scans', headers: bearer(doctor) });
    expect(worklist.json().items.map((s: { id: string }) => s.id)).toContain(id);

    expect((await transition(doctor, id, { action: 'verify', version: 2 })).statusCode).toBe(400); // findings required
    expect((await transition(pharmacist, id, { action: 'complete', version: 2 })).statusCode).toBe(403);
    const verified = await transition(doctor, id, {
      action: 'verify',
      version: 2,
      findings: 'Small nodule, right upper lobe',
      impression: 'Follow-up CT',
    });
    expect(verified.statusCode, verified.body).toBe(200);
    expect(verified.json().status).toBe('DOCTOR_VERIFIED');
    // Worklist pages are cached briefly, but a change empties the cache: the case has left the queue.
    const after = await t.app.inject({ method: 'GET', url: '/api/v1/scans', headers: bearer(doctor) });
    expect(after.json().items.map((s: { id: string }) => s.id)).not.toContain(id);

    const badRx = await transition(pharmacist, id, {
      action: 'complete',
      version: 3,
      prescription: {
        items: [{ drug: 'Amoxicillin', dose: 'lots', route: 'oral', frequency: 'daily', duration: '7 days' }],
      },
    });
    expect(badRx.statusCode).toBe(400);
    expect(badRx.json().error.message).toMatch(/dose/);
    const completed = await transition(pharmacist, id, {
      action: 'complete',
      version: 3,
      prescription: {
        items: [
          { drug: 'Amoxicillin', dose: '500 mg', route: 'oral', frequency: 'three times daily', duration: '7 days' },
        ],
      },
    });
    expect(completed.statusCode, completed.body).toBe(200);

    const sentBack = await transition(admin, id, { action: 'send_back', version: 4 });
    expect(sentBack.statusCode).toBe(400);
    const approved = await transition(admin, id, { action: 'approve', version: 4 });
    expect(approved.statusCode).toBe(200);
    expect(approved.json().status).toBe('REPORT_READY');

    const mine = await t.app.inject({ method: 'GET', url: `/api/v1/scans/${id}`, headers: bearer(patient) });
    expect(mine.json().timeline.map((e: { to: string }) => e.to)).toEqual([
      'PENDING_AI',
      'AI_ANALYZED',
      'DOCTOR_VERIFIED',
      'PHARMACIST_COMPLETED',
      'REPORT_READY',
    ]);
    expect(mine.json().findings.findings).toBe('Small nodule, right upper lobe');
    expect((await transition(admin, id, { action: 'approve', version: 5 })).statusCode).toBe(409);
  });

  it('sends a case back one step with a reason, recorded in the timeline', async () => {
    const org = uniqueSlug();
    const [doctor, pharmacist] = await Promise.all([createUser(t, org, 'doctor'), createUser(t, org, 'pharmacist')]);
    const { id } = await caseReadyForDoctor(org);
    await transition(doctor, id, { action: 'verify', version: 2, findings: 'Clear lungs' });
    const back = await transition(pharmacist, id, {
      action: 'send_back',
      version: 3,
      reason: 'Findings do not match the request',
    });
    expect(back.statusCode).toBe(200);
    expect(back.json().status).toBe('AI_ANALYZED');
    expect(back.json().timeline.at(-1)).toMatchObject({
      action: 'send_back',
      notes: 'Findings do not match the request',
    });
  });

  it('lets exactly one of two concurrent approvals through; the other gets 409', async () => {
    const org = uniqueSlug();
    const [doctor, pharmacist, admin1, admin2] = await Promise.all([
      createUser(t, org, 'doctor'),
      createUser(t, org, 'pharmacist'),
      createUser(t, org, 'admin'),
      createUser(t, org, 'admin'),
    ]);
    const { id } = await caseReadyForDoctor(org);
    await transition(doctor, id, { action: 'verify', version: 2, findings: 'Effusion' });
    await transition(pharmacist, id, {
      action: 'complete',
      version: 3,
      prescription: { items: [], notes: 'No medication indicated' },
    });
    const results = await Promise.all([
      transition(admin1, id, { action: 'approve', version: 4 }),
      transition(admin2, id, { action: 'approve', version: 4 }),
    ]);
    expect(results.map((r) => r.statusCode).sort()).toEqual([200, 409]);
    const { rows } = await t.ctx.db.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM scan_events WHERE scan_id = $1 AND action = 'approve'`,
      [id],
    );
    expect(Number(rows[0]!.n)).toBe(1);
  });

  it('orders the doctor worklist HIGH first, then by waiting time, with pages and counts', async () => {
    const org = uniqueSlug();
    const doctor = await createUser(t, org, 'doctor');
    const routineOld = await caseReadyForDoctor(org, 0.3);
    const high = await caseReadyForDoctor(org, 0.95);
    const routineNew = await caseReadyForDoctor(org, 0.6);
    const page1 = await t.app.inject({ method: 'GET', url: '/api/v1/scans?limit=2', headers: bearer(doctor) });
    expect(page1.json().items.map((s: { id: string }) => s.id)).toEqual([high.id, routineOld.id]);
    const page2 = await t.app.inject({
      method: 'GET',
      url: `/api/v1/scans?limit=2&cursor=${page1.json().nextCursor}`,
      headers: bearer(doctor),
    });
    expect(page2.json().items.map((s: { id: string }) => s.id)).toEqual([routineNew.id]);
    expect(page2.json().nextCursor).toBeNull();
    const onlyHigh = await t.app.inject({ method: 'GET', url: '/api/v1/scans?priority=HIGH', headers: bearer(doctor) });
    expect(onlyHigh.json().items).toHaveLength(1);
    const counts = await t.app.inject({ method: 'GET', url: '/api/v1/scans/counts', headers: bearer(doctor) });
    expect(counts.json().counts).toContainEqual(expect.objectContaining({ status: 'AI_ANALYZED', total: 3, high: 1 }));
    const future = await t.app.inject({ method: 'GET', url: '/api/v1/scans?from=2999-01-01', headers: bearer(doctor) });
    expect(future.json().items).toHaveLength(0);
    const bad = await t.app.inject({ method: 'GET', url: '/api/v1/scans?status=NOPE', headers: bearer(doctor) });
    expect(bad.statusCode).toBe(400);
  });

  it('writes an audit event for reads, actions and refusals', async () => {
    const org = uniqueSlug();
    const [doctor, admin, pharmacist] = await Promise.all([
      createUser(t, org, 'doctor'),
      createUser(t, org, 'admin'),
      createUser(t, org, 'pharmacist'),
    ]);
    const { id } = await caseReadyForDoctor(org);
    await t.app.inject({ method: 'GET', url: `/api/v1/scans/${id}`, headers: bearer(doctor) });
    await transition(pharmacist, id, { action: 'complete', version: 2, prescription: { items: [], notes: 'x' } });
    const audit = await t.app.inject({ method: 'GET', url: `/api/v1/audit?resourceId=${id}`, headers: bearer(admin) });
    const events = audit.json().items as { action: string; outcome: string; actorUserId: string }[];
    expect(events).toContainEqual(
      expect.objectContaining({ action: 'scan.read', outcome: 'success', actorUserId: doctor.id }),
    );
    expect(events).toContainEqual(
      expect.objectContaining({ action: 'scan.transition', outcome: 'denied', actorUserId: pharmacist.id }),
    );
    expect(events).toContainEqual(expect.objectContaining({ action: 'scan.ai_result', outcome: 'success' }));
    // The audit trail is append-only in the database.
    await expect(t.ctx.db.query('DELETE FROM audit_events WHERE resource_id = $1', [id])).rejects.toThrow(
      /append-only/,
    );
  });
});
