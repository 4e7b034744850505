/**
 * Case discussion over the REST API (SPEC C2): chat among the clinicians who can see a case,
 * second-opinion requests to a named doctor, shared annotations with server-side measurement.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, createUser, multipart, startTestApp, uniqueSlug, type TestApp, type TestUser } from './harness.ts';
import { dicomBytes, pngBytes } from './fixtures.ts';
import { withScope, withSystem } from '../src/db/scope.ts';

let t: TestApp;
let org: string;
let doctor: TestUser;
let colleague: TestUser;
let pharmacist: TestUser;
let patient: TestUser;
let outsider: TestUser;

beforeAll(async () => {
  t = await startTestApp();
  org = uniqueSlug('collab');
  const otherOrg = uniqueSlug('collab-other');
  await withSystem(t.ctx.db, (tx) =>
    tx.query(`INSERT INTO organisations (slug, name) VALUES ($1, 'Collab'), ($2, 'Other')`, [org, otherOrg]),
  );
  [doctor, colleague, pharmacist, patient, outsider] = await Promise.all([
    createUser(t, org, 'doctor'),
    createUser(t, org, 'doctor'),
    createUser(t, org, 'pharmacist'),
    createUser(t, org, 'patient'),
    createUser(t, otherOrg, 'doctor'),
  ]);
});

afterAll(async () => {
  await t?.close();
});

const api = (as: TestUser, method: 'GET' | 'POST' | 'PATCH' | 'DELETE', path: string, payload?: unknown) =>
  t.app.inject({
    method,
    url: `/api/v1${path}`,
    headers: bearer(as),
    ...(payload ? { payload: payload } : {}),
  });

async function upload(file: { name: string; bytes: Buffer }): Promise<string> {
  const body = multipart([file], { patientId: patient.patientId! });
  const res = await t.app.inject({
    method: 'POST',
    url: '/api/v1/scans',
    payload: body.payload,
    headers: { ...body.headers, ...bearer(doctor) },
  });
  expect(res.statusCode, res.body).toBe(201);
  return res.json().scans[0].id;
}

const pngCase = async () => upload({ name: 'c.png', bytes: await pngBytes(64, 48, Math.floor(Math.random() * 1e9)) });

describe('case chat', () => {
  it('is shared by the clinicians who can see the case, encrypted at rest, and closed to patients and other organisations', async () => {
    const scanId = await pngCase();
    const text = 'Ünïcødé: possible nodule, right upper lobe';
    const posted = await api(doctor, 'POST', `/scans/${scanId}/messages`, { text });
    expect(posted.statusCode).toBe(201);
    expect(posted.json()).toMatchObject({ text, author: { id: doctor.id, role: 'doctor' }, scanId });
    expect((await api(pharmacist, 'POST', `/scans/${scanId}/messages`, { text: 'Noted' })).statusCode).toBe(201);

    const listed = await api(colleague, 'GET', `/scans/${scanId}/messages`);
    expect(listed.statusCode).toBe(200);
    expect(listed.json().items.map((m: { text: string }) => m.text)).toEqual([text, 'Noted']);
    const after = await api(colleague, 'GET', `/scans/${scanId}/messages?after=${posted.json().id}`);
    expect(after.json().items.map((m: { text: string }) => m.text)).toEqual(['Noted']);

    expect((await api(patient, 'GET', `/scans/${scanId}/messages`)).statusCode).toBe(404);
    expect((await api(outsider, 'GET', `/scans/${scanId}/messages`)).statusCode).toBe(404);
    expect((await api(outsider, 'POST', `/scans/${scanId}/messages`, { text: 'x' })).statusCode).toBe(404);

    const stored = await withSystem(t.ctx.db, (tx) =>
      tx.query<{ body_enc: Uint8Array }>('SELECT body_enc FROM case_messages WHERE scan_id = $1', [scanId]),
    );
    expect(Buffer.from(stored.rows[0]!.body_enc).includes(Buffer.from('nodule'))).toBe(false);

    const audit = await withSystem(t.ctx.db, (tx) =>
      tx.query<{ action: string; outcome: string }>(
        `SELECT action, outcome FROM audit_events WHERE resource_id = $1 AND action LIKE 'discussion.%' ORDER BY seq`,
        [scanId],
      ),
    );
    expect(audit.rows).toContainEqual({ action: 'discussion.post', outcome: 'success' });
    expect(audit.rows).toContainEqual({ action: 'discussion.read', outcome: 'denied' });
  });

  it('refuses empty and oversized messages with a clear 400', async () => {
    const scanId = await pngCase();
    for (const text of ['   ', 'x'.repeat(4001)]) {
      const res = await api(doctor, 'POST', `/scans/${scanId}/messages`, { text });
      expect(res.statusCode).toBe(400);
      expect(res.json().error.message).toMatch(/message|characters|must/i);
    }
  });
});

describe('second opinions', () => {
  it('goes to a named doctor, appears in their worklist, and is answered through the chat', async () => {
    const scanId = await pngCase();
    const doctors = await api(doctor, 'GET', '/second-opinions/doctors');
    expect(doctors.json().items.map((d: { id: string }) => d.id)).toContain(colleague.id);
    expect(doctors.json().items.map((d: { id: string }) => d.id)).not.toContain(doctor.id);

    const asked = await api(doctor, 'POST', `/scans/${scanId}/second-opinions`, {
      doctorId: colleague.id,
      note: 'Nodule or vessel?',
    });
    expect(asked.statusCode).toBe(201);
    expect(asked.json()).toMatchObject({
      status: 'requested',
      note: 'Nodule or vessel?',
      requestedOf: { id: colleague.id },
    });
    const again = await api(doctor, 'POST', `/scans/${scanId}/second-opinions`, { doctorId: colleague.id });
    expect(again.statusCode).toBe(409);

    const worklist = await api(colleague, 'GET', '/second-opinions?assigned=me&status=requested');
    expect(worklist.statusCode).toBe(200);
    expect(worklist.json().items.map((r: { id: string }) => r.id)).toContain(asked.json().id);
    expect((await api(doctor, 'GET', '/second-opinions?assigned=me')).json().items).toEqual([]);

    // Only the doctor who was asked may answer.
    expect((await api(doctor, 'POST', `/second-opinions/${asked.json().id}/answer`, { text: 'me' })).statusCode).toBe(
      403,
    );
    const answered = await api(colleague, 'POST', `/second-opinions/${asked.json().id}/answer`, { text: 'A vessel.' });
    expect(answered.statusCode).toBe(200);
    expect(answered.json()).toMatchObject({ status: 'answered', response: 'A vessel.' });
    expect(answered.json().respondedAt).toEqual(expect.any(String));
    const chat = await api(doctor, 'GET', `/scans/${scanId}/messages`);
    expect(chat.json().items).toContainEqual(
      expect.objectContaining({
        text: 'A vessel.',
        secondOpinionId: asked.json().id,
        author: expect.objectContaining({ id: colleague.id }),
      }),
    );
    expect((await api(colleague, 'POST', `/second-opinions/${asked.json().id}/decline`, {})).statusCode).toBe(409);
    expect((await api(pharmacist, 'GET', `/scans/${scanId}/second-opinions`)).json().items).toHaveLength(1);
  });

  it('can be declined with a reason', async () => {
    const scanId = await pngCase();
    const asked = await api(doctor, 'POST', `/scans/${scanId}/second-opinions`, { doctorId: colleague.id });
    const declined = await api(colleague, 'POST', `/second-opinions/${asked.json().id}/decline`, { text: 'On leave' });
    expect(declined.json()).toMatchObject({ status: 'declined', response: 'On leave' });
  });

  it('must name a verified, active doctor of the organisation other than oneself', async () => {
    const scanId = await pngCase();
    // Registered, licence not yet verified by an admin.
    const registered = await t.app.inject({
      method: 'POST',
      url: '/api/v1/auth/register',
      payload: {
        organisation: org,
        email: `unverified-${scanId.slice(0, 8)}@example.test`,
        password: `pw-${scanId}`,
        name: 'Not Yet',
        role: 'doctor',
        licenceNumber: 'GMC-1',
        licenceJurisdiction: 'UK',
      },
    });
    expect(registered.statusCode, registered.body).toBe(201);
    const unverifiedId: string = registered.json().userId;
    const cases: [string, RegExp][] = [
      [doctor.id, /yourself/],
      [pharmacist.id, /doctor of your organisation/],
      [outsider.id, /doctor of your organisation/],
      [patient.id, /doctor of your organisation/],
      [unverifiedId, /not verified/],
    ];
    for (const [doctorId, message] of cases) {
      const res = await api(doctor, 'POST', `/scans/${scanId}/second-opinions`, { doctorId });
      expect(res.statusCode, doctorId).toBe(400);
      expect(res.json().error.message).toMatch(message);
    }
    expect(
      (await api(pharmacist, 'POST', `/scans/${scanId}/second-opinions`, { doctorId: doctor.id })).statusCode,
    ).toBe(403);
    expect((await api(pharmacist, 'GET', '/second-opinions?assigned=me')).statusCode).toBe(403);
  });
});

describe('annotations', () => {
  it('measures a length in mm from the DICOM pixel spacing, and in pixels without one', async () => {
    const dicomCase = await upload({
      name: 'spaced.dcm',
      bytes: dicomBytes({ rows: 64, columns: 64, pixelSpacing: [0.5, 0.25] }),
    });
    const length = { kind: 'length', from: { x: 0, y: 0 }, to: { x: 40, y: 30 } };
    const mm = await api(doctor, 'POST', `/scans/${dicomCase}/annotations`, { geometry: length, label: 'lesion' });
    expect(mm.statusCode, mm.body).toBe(201);
    // 40 columns × 0.25 mm and 30 rows × 0.5 mm: hypot(10, 15).
    expect(mm.json().measurement).toEqual({ value: 18.03, unit: 'mm' });
    expect(mm.json()).toMatchObject({ kind: 'length', label: 'lesion', version: 1, deleted: false, geometry: length });

    const pngScan = await pngCase();
    const px = await api(doctor, 'POST', `/scans/${pngScan}/annotations`, { geometry: length });
    expect(px.json().measurement).toEqual({ value: 50, unit: 'px' });
    const ellipse = await api(doctor, 'POST', `/scans/${pngScan}/annotations`, {
      geometry: { kind: 'ellipse', center: { x: 32, y: 24 }, radiusX: 10, radiusY: 5 },
    });
    expect(ellipse.statusCode).toBe(201);
    expect(ellipse.json().measurement).toBeNull();
    const listed = await api(pharmacist, 'GET', `/scans/${pngScan}/annotations`);
    expect(listed.json().items.map((a: { kind: string }) => a.kind)).toEqual(['length', 'ellipse']);
  });

  it('refuses shapes outside the image, non-finite numbers and missing fields with 400s that say why', async () => {
    const scanId = await pngCase(); // 64 × 48
    const bad: [unknown, RegExp][] = [
      [{ kind: 'arrow', from: { x: 1, y: 1 }, to: { x: 65, y: 10 } }, /outside the 64×48 image/],
      [{ kind: 'length', from: { x: 1, y: 1 }, to: { x: 1, y: 1 } }, /two different points/],
      [{ kind: 'ellipse', center: { x: 60, y: 24 }, radiusX: 10, radiusY: 5 }, /outside the image/],
      [{ kind: 'ellipse', center: { x: 30, y: 24 } }, /needs center, radiusX, radiusY/],
      [{ kind: 'triangle', from: { x: 1, y: 1 }, to: { x: 2, y: 2 } }, /kind/],
      [{ kind: 'arrow', from: { x: 'left', y: 1 }, to: { x: 2, y: 2 } }, /number/],
    ];
    for (const [geometry, message] of bad) {
      const res = await api(doctor, 'POST', `/scans/${scanId}/annotations`, { geometry });
      expect(res.statusCode, JSON.stringify(geometry)).toBe(400);
      expect(res.json().error.message).toMatch(message);
    }
    // JSON has no Infinity, but 1e400 parses as one (the schema refuses it; the domain would too).
    const infinite = await t.app.inject({
      method: 'POST',
      url: `/api/v1/scans/${scanId}/annotations`,
      headers: { ...bearer(doctor), 'content-type': 'application/json' },
      payload: '{"geometry":{"kind":"arrow","from":{"x":1e400,"y":1},"to":{"x":2,"y":2}}}',
    });
    expect(infinite.statusCode).toBe(400);
    expect(infinite.json().error.message).toMatch(/geometry\.from\.x/);
    const frame = await api(doctor, 'POST', `/scans/${scanId}/annotations`, {
      geometry: { kind: 'arrow', from: { x: 1, y: 1 }, to: { x: 2, y: 2 } },
      frame: 3,
    });
    expect(frame.statusCode).toBe(400);
    expect(frame.json().error.message).toMatch(/frame must be between 0 and 0/);
    const count = await withSystem(t.ctx.db, (tx) =>
      tx.query('SELECT 1 FROM annotations WHERE scan_id = $1', [scanId]),
    );
    expect(count.rowCount).toBe(0);
  });

  it('edits with optimistic concurrency, withdraws without deleting rows, and is for doctors to draw', async () => {
    const scanId = await pngCase();
    const created = await api(doctor, 'POST', `/scans/${scanId}/annotations`, {
      geometry: { kind: 'arrow', from: { x: 1, y: 1 }, to: { x: 5, y: 5 } },
    });
    const id = created.json().id;
    const moved = { kind: 'arrow', from: { x: 2, y: 2 }, to: { x: 9, y: 9 } };
    const edit = await api(colleague, 'PATCH', `/annotations/${id}`, { version: 1, geometry: moved, label: 'moved' });
    expect(edit.statusCode).toBe(200);
    expect(edit.json()).toMatchObject({ version: 2, geometry: moved, label: 'moved' });
    const stale = await api(doctor, 'PATCH', `/annotations/${id}`, { version: 1, geometry: moved });
    expect(stale.statusCode).toBe(409);
    const kindChange = await api(doctor, 'PATCH', `/annotations/${id}`, {
      version: 2,
      geometry: { kind: 'length', from: { x: 2, y: 2 }, to: { x: 9, y: 9 } },
    });
    expect(kindChange.statusCode).toBe(400);

    expect((await api(pharmacist, 'POST', `/scans/${scanId}/annotations`, { geometry: moved })).statusCode).toBe(403);
    expect((await api(patient, 'GET', `/scans/${scanId}/annotations`)).statusCode).toBe(404);
    expect((await api(outsider, 'PATCH', `/annotations/${id}`, { version: 2, geometry: moved })).statusCode).toBe(404);

    const removed = await api(doctor, 'DELETE', `/annotations/${id}?version=2`);
    expect(removed.statusCode).toBe(200);
    expect(removed.json()).toMatchObject({ deleted: true, version: 3 });
    expect((await api(doctor, 'GET', `/scans/${scanId}/annotations`)).json().items).toEqual([]);
    expect((await api(doctor, 'DELETE', `/annotations/${id}?version=3`)).statusCode).toBe(404);
    const row = await withSystem(t.ctx.db, (tx) => tx.query('SELECT deleted FROM annotations WHERE id = $1', [id]));
    expect(row.rows).toEqual([{ deleted: true }]);
  });
});

it('documents the discussion and live routes in the OpenAPI document', async () => {
  const doc = (await t.app.inject({ method: 'GET', url: '/api/openapi.json' })).json();
  for (const path of [
    '/api/v1/scans/{id}/messages',
    '/api/v1/scans/{id}/second-opinions',
    '/api/v1/second-opinions',
    '/api/v1/second-opinions/{id}/answer',
    '/api/v1/scans/{id}/annotations',
    '/api/v1/annotations/{id}',
    '/api/v1/live',
  ]) {
    expect(Object.keys(doc.paths), path).toContain(path);
  }
});

describe('row-level security and privileges beneath the API', () => {
  it('shows patients no discussion rows, gives the application role no DELETE and no access to the event log', async () => {
    const scanId = await pngCase();
    await api(doctor, 'POST', `/scans/${scanId}/messages`, { text: 'For clinicians' });
    await api(doctor, 'POST', `/scans/${scanId}/annotations`, {
      geometry: { kind: 'arrow', from: { x: 1, y: 1 }, to: { x: 2, y: 2 } },
    });
    const asPatient = { orgId: patient.orgId, userId: patient.id, dbRole: 'patient' } as const;
    const asDoctor = { orgId: doctor.orgId, userId: doctor.id, dbRole: 'doctor' } as const;
    const seen = await withScope(t.ctx.db, asPatient, async (tx) => ({
      messages: (await tx.query('SELECT 1 FROM case_messages WHERE scan_id = $1', [scanId])).rows.length,
      annotations: (await tx.query('SELECT 1 FROM annotations WHERE scan_id = $1', [scanId])).rows.length,
    }));
    expect(seen).toEqual({ messages: 0, annotations: 0 });
    await expect(
      withScope(t.ctx.db, asDoctor, (tx) => tx.query('DELETE FROM annotations WHERE scan_id = $1', [scanId])),
    ).rejects.toThrow(/permission denied/);
    await expect(
      withScope(t.ctx.db, asDoctor, (tx) => tx.query('DELETE FROM case_messages WHERE scan_id = $1', [scanId])),
    ).rejects.toThrow(/permission denied/);
    await expect(withScope(t.ctx.db, asDoctor, (tx) => tx.query('SELECT * FROM live_events'))).rejects.toThrow(
      /permission denied/,
    );
    await expect(
      withScope(t.ctx.db, asDoctor, (tx) =>
        tx.query(`SELECT live_append($1, 'scan.status', '{}'::jsonb)`, [doctor.orgId]),
      ),
    ).rejects.toThrow(/permission denied/);
  });
});
