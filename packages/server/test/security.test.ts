/**
 * Security properties that must stay green: the authorisation matrix (every route × every kind
 * of caller, including other patients and other organisations), SQL-injection strings in every
 * parameter, and row-level security holding even for a query that forgets its filter.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { recordAiResult } from '../src/services/scan-service.ts';
import { withScope } from '../src/db/scope.ts';
import {
  bearer,
  createUser,
  multipart,
  signIn,
  startTestApp,
  uniqueSlug,
  type TestApp,
  type TestUser,
} from './harness.ts';
import { pngBytes } from './fixtures.ts';

let t: TestApp;
type Caller =
  | 'anonymous'
  | 'ownPatient'
  | 'otherPatient'
  | 'doctor'
  | 'unverifiedDoctor'
  | 'pharmacist'
  | 'admin'
  | 'adminWithoutTotp'
  | 'otherOrgDoctor'
  | 'otherOrgAdmin';
const callers = {} as Record<Exclude<Caller, 'anonymous'>, TestUser>;
let scanId: string;
let doctorUserId: string;
let bystanderId: string;

beforeAll(async () => {
  t = await startTestApp();
  const org = uniqueSlug('a');
  const other = uniqueSlug('b');
  callers.ownPatient = await createUser(t, org, 'patient');
  callers.otherPatient = await createUser(t, org, 'patient');
  callers.doctor = await createUser(t, org, 'doctor');
  callers.pharmacist = await createUser(t, org, 'pharmacist');
  callers.admin = await createUser(t, org, 'admin');
  callers.otherOrgDoctor = await createUser(t, other, 'doctor');
  callers.otherOrgAdmin = await createUser(t, other, 'admin');
  const unverified = await createUser(t, org, 'doctor');
  await t.ctx.db.query('UPDATE users SET clinician_verified_at = NULL WHERE id = $1', [unverified.id]);
  callers.unverifiedDoctor = unverified;
  const noTotp = await createUser(t, org, 'admin');
  await t.ctx.db.query('UPDATE users SET totp_enabled_at = NULL, totp_secret_enc = NULL WHERE id = $1', [noTotp.id]);
  callers.adminWithoutTotp = { ...noTotp, ...(await signIn(t, noTotp.email, noTotp.password, null)) };
  doctorUserId = callers.doctor.id;
  bystanderId = (await createUser(t, org, 'pharmacist')).id;

  const body = multipart([{ name: 'scan.png', bytes: await pngBytes(16, 16, 3) }]);
  const up = await t.app.inject({
    method: 'POST',
    url: '/api/v1/scans',
    payload: body.payload,
    headers: { ...body.headers, ...bearer(callers.ownPatient) },
  });
  scanId = up.json().scans[0].id;
  await recordAiResult(
    t.ctx,
    { orgId: callers.ownPatient.orgId, scanId },
    {
      model: { name: 'm', version: '1' },
      labels: [],
      topFinding: null,
      uncertain: true,
      priorityScore: 0.1,
      priority: 'ROUTINE',
      disclaimer: 'Decision support only.',
    },
  );
});
afterAll(async () => t?.close());

function headersFor(caller: Caller): Record<string, string> {
  return caller === 'anonymous' ? {} : bearer(callers[caller]);
}

const ALL: Caller[] = [
  'anonymous',
  'ownPatient',
  'otherPatient',
  'doctor',
  'unverifiedDoctor',
  'pharmacist',
  'admin',
  'adminWithoutTotp',
  'otherOrgDoctor',
  'otherOrgAdmin',
];

// Expected status per caller. 404 where the resource is invisible to the caller (another
// patient's case, another organisation): existence is not revealed.
const readScan: Record<Caller, number> = {
  anonymous: 401,
  ownPatient: 200,
  otherPatient: 404,
  doctor: 200,
  unverifiedDoctor: 403,
  pharmacist: 200,
  admin: 200,
  adminWithoutTotp: 401,
  otherOrgDoctor: 404,
  otherOrgAdmin: 404,
};
const listScans: Record<Caller, number> = {
  anonymous: 401,
  ownPatient: 200,
  otherPatient: 200,
  doctor: 200,
  unverifiedDoctor: 403,
  pharmacist: 200,
  admin: 200,
  adminWithoutTotp: 401,
  otherOrgDoctor: 200,
  otherOrgAdmin: 200,
};
const adminOnly: Record<Caller, number> = {
  anonymous: 401,
  ownPatient: 403,
  otherPatient: 403,
  doctor: 403,
  unverifiedDoctor: 403,
  pharmacist: 403,
  admin: 200,
  adminWithoutTotp: 401,
  otherOrgDoctor: 403,
  otherOrgAdmin: 200,
};
const adminOnTarget: Record<Caller, number> = { ...adminOnly, otherOrgAdmin: 404 };
const verifyCase: Record<Caller, number> = {
  anonymous: 401,
  ownPatient: 403,
  otherPatient: 404,
  doctor: 200,
  unverifiedDoctor: 403,
  pharmacist: 403,
  admin: 403,
  adminWithoutTotp: 401,
  otherOrgDoctor: 404,
  otherOrgAdmin: 404,
};
const upload: Record<Caller, number> = {
  anonymous: 401,
  ownPatient: 201,
  otherPatient: 201,
  doctor: 400,
  unverifiedDoctor: 403,
  pharmacist: 403,
  admin: 400,
  adminWithoutTotp: 401,
  otherOrgDoctor: 400,
  otherOrgAdmin: 400,
};

describe('authorisation matrix', () => {
  it.each(ALL)('GET a scan, its image, the worklist and counts as %s', async (caller) => {
    const h = headersFor(caller);
    const detail = await t.app.inject({ method: 'GET', url: `/api/v1/scans/${scanId}`, headers: h });
    expect(detail.statusCode, detail.body).toBe(readScan[caller]);
    const image = await t.app.inject({ method: 'GET', url: `/api/v1/scans/${scanId}/image`, headers: h });
    expect(image.statusCode).toBe(readScan[caller]);
    const list = await t.app.inject({ method: 'GET', url: '/api/v1/scans?status=AI_ANALYZED', headers: h });
    expect(list.statusCode).toBe(listScans[caller]);
    if (list.statusCode === 200) {
      const sees = list.json().items.some((s: { id: string }) => s.id === scanId);
      expect(sees).toBe(['ownPatient', 'doctor', 'pharmacist', 'admin'].includes(caller));
    }
    const counts = await t.app.inject({ method: 'GET', url: '/api/v1/scans/counts', headers: h });
    expect(counts.statusCode).toBe(listScans[caller]);
  });

  it.each(ALL)('admin functions as %s', async (caller) => {
    const h = headersFor(caller);
    for (const url of ['/api/v1/admin/users', '/api/v1/admin/outbox', '/api/v1/audit']) {
      const res = await t.app.inject({ method: 'GET', url, headers: h });
      expect(res.statusCode, `${url} ${res.body}`).toBe(adminOnly[caller]);
      if (res.statusCode === 200 && url === '/api/v1/admin/users') {
        const ids = res.json().items.map((u: { id: string }) => u.id);
        expect(ids.includes(doctorUserId)).toBe(caller === 'admin');
      }
    }
    // Acting on users of the first organisation: the unverified doctor, and a bystander whose
    // sessions a reset may end without harming the rest of the matrix.
    for (const [action, target] of [
      ['verify', callers.unverifiedDoctor.id],
      ['reset-second-factor', bystanderId],
      ['enable', bystanderId],
    ] as const) {
      const res = await t.app.inject({ method: 'POST', url: `/api/v1/admin/users/${target}/${action}`, headers: h });
      expect(res.statusCode, `${action} ${res.body}`).toBe(adminOnTarget[caller]);
    }
    // Put the doctor back as the matrix expects it.
    await t.ctx.db.query('UPDATE users SET clinician_verified_at = NULL WHERE id = $1', [callers.unverifiedDoctor.id]);
  });

  it.each(ALL)('upload as %s', async (caller) => {
    const body = multipart([{ name: 'x.png', bytes: await pngBytes(8, 8, ALL.indexOf(caller) + 100) }]);
    const res = await t.app.inject({
      method: 'POST',
      url: '/api/v1/scans',
      payload: body.payload,
      headers: { ...body.headers, ...headersFor(caller) },
    });
    expect(res.statusCode, res.body).toBe(upload[caller]);
  });

  it('lets a clinician upload only for a patient of their own organisation', async () => {
    const body = multipart([{ name: 'x.png', bytes: await pngBytes(8, 8, 77) }], {
      patientId: callers.ownPatient.patientId!,
    });
    const mine = await t.app.inject({
      method: 'POST',
      url: '/api/v1/scans',
      payload: body.payload,
      headers: { ...body.headers, ...bearer(callers.doctor) },
    });
    expect(mine.statusCode).toBe(201);
    const theirs = await t.app.inject({
      method: 'POST',
      url: '/api/v1/scans',
      payload: body.payload,
      headers: { ...body.headers, ...bearer(callers.otherOrgDoctor) },
    });
    expect(theirs.statusCode).toBe(404);
  });

  it('lets only the owning role move a case (doctor last, since it succeeds)', async () => {
    const order: Caller[] = [...ALL.filter((c) => c !== 'doctor'), 'doctor'];
    for (const caller of order) {
      const res = await t.app.inject({
        method: 'POST',
        url: `/api/v1/scans/${scanId}/transitions`,
        payload: { action: 'verify', version: 2, findings: 'No acute findings' },
        headers: headersFor(caller),
      });
      expect(res.statusCode, `${caller}: ${res.body}`).toBe(verifyCase[caller]);
    }
  });
});

const INJECTIONS = [
  "' OR '1'='1",
  "'; DROP TABLE scans; --",
  '1; SELECT pg_sleep(5)--',
  "\\' UNION SELECT password_hash FROM users --",
  '%27%20OR%201=1',
  '../../etc/passwd',
  '\u0000',
  "\"; set_config('app.org', NULL, true); --",
];

describe('SQL injection strings in every parameter', () => {
  it('never reaches SQL as code: every reply is a 4xx or a normal result, and nothing is lost', async () => {
    const before = await t.ctx.db.query<{ n: number }>('SELECT count(*)::int AS n FROM scans');
    const doctor = callers.doctor;
    const admin = callers.admin;
    for (const s of INJECTIONS) {
      const e = encodeURIComponent(s);
      const requests = [
        { method: 'POST' as const, url: '/api/v1/auth/login', payload: { email: s, password: s } },
        {
          method: 'POST' as const,
          url: '/api/v1/auth/register',
          payload: { organisation: s, email: `${s}@x.test`, password: `${s}-long-enough`, name: s, role: 'patient' },
        },
        { method: 'POST' as const, url: '/api/v1/auth/refresh', payload: { refreshToken: s } },
        { method: 'POST' as const, url: '/api/v1/auth/totp/verify', payload: { challenge: s, code: s } },
        { method: 'GET' as const, url: `/api/v1/scans?status=${e}`, headers: bearer(doctor) },
        { method: 'GET' as const, url: `/api/v1/scans?from=${e}&to=${e}`, headers: bearer(doctor) },
        { method: 'GET' as const, url: `/api/v1/scans?cursor=${e}`, headers: bearer(doctor) },
        { method: 'GET' as const, url: `/api/v1/scans?priority=${e}`, headers: bearer(doctor) },
        { method: 'GET' as const, url: `/api/v1/scans/${e}`, headers: bearer(doctor) },
        { method: 'GET' as const, url: `/api/v1/scans/${e}/image`, headers: bearer(doctor) },
        {
          method: 'POST' as const,
          url: `/api/v1/scans/${e}/transitions`,
          payload: { action: 'verify', version: 1 },
          headers: bearer(doctor),
        },
        {
          method: 'POST' as const,
          url: `/api/v1/scans/${scanId}/transitions`,
          payload: { action: s, version: 1 },
          headers: bearer(doctor),
        },
        {
          method: 'GET' as const,
          url: `/api/v1/audit?action=${e}&resourceId=${e}&actorUserId=${e}`,
          headers: bearer(admin),
        },
        { method: 'GET' as const, url: `/api/v1/audit?outcome=${e}&from=${e}`, headers: bearer(admin) },
        { method: 'GET' as const, url: `/api/v1/admin/users?role=${e}`, headers: bearer(admin) },
        { method: 'POST' as const, url: `/api/v1/admin/users/${e}/verify`, headers: bearer(admin) },
      ];
      for (const request of requests) {
        const res = await t.app.inject(request);
        expect(res.statusCode, `${request.method} ${request.url} ${res.body}`).toBeLessThan(500);
        if (res.statusCode >= 400) expect(res.json().error.code).toBeTypeOf('string');
      }
      const body = multipart([{ name: `${s}.png`, bytes: await pngBytes(8, 8, 5) }], { patientId: s });
      const up = await t.app.inject({
        method: 'POST',
        url: '/api/v1/scans',
        payload: body.payload,
        headers: { ...body.headers, ...bearer(doctor) },
      });
      expect(up.statusCode).toBe(400);
    }
    // Injection text stored as data comes back as the same text.
    const audit = await t.app.inject({
      method: 'GET',
      url: `/api/v1/audit?action=${encodeURIComponent(INJECTIONS[1]!)}`,
      headers: bearer(admin),
    });
    expect(audit.json().items).toEqual([]);
    const after = await t.ctx.db.query<{ n: number }>('SELECT count(*)::int AS n FROM scans');
    expect(Number(after.rows[0]!.n)).toBe(Number(before.rows[0]!.n));
  });
});

describe('row-level security', () => {
  it('returns nothing to a scoped query that forgets its filter, and nothing without a scope', async () => {
    const other = callers.otherOrgAdmin;
    const rows = await withScope(t.ctx.db, { orgId: other.orgId, userId: other.id, dbRole: 'admin' }, async (tx) => {
      const scans = await tx.query<{ org_id: string }>('SELECT org_id FROM scans');
      const users = await tx.query<{ org_id: string }>('SELECT org_id FROM users');
      return [...scans.rows, ...users.rows];
    });
    expect(rows.every((r) => r.org_id === other.orgId)).toBe(true);
    const unscoped = await t.ctx.db.transaction(async (tx) => {
      await tx.query(`SELECT set_config('role', 'scanflow_app', true)`);
      return (await tx.query('SELECT id FROM scans')).rows;
    });
    expect(unscoped).toEqual([]);
    // The application role cannot delete, nor rewrite the audit trail.
    await expect(
      withScope(t.ctx.db, { orgId: other.orgId, userId: other.id, dbRole: 'admin' }, (tx) =>
        tx.query('DELETE FROM scans'),
      ),
    ).rejects.toThrow(/permission denied/);
    await expect(
      withScope(t.ctx.db, { orgId: other.orgId, userId: other.id, dbRole: 'admin' }, (tx) =>
        tx.query(`UPDATE audit_events SET action = 'x'`),
      ),
    ).rejects.toThrow(/permission denied/);
  });

  it('shows a patient only their own rows even when the query does not say so', async () => {
    const p = callers.otherPatient;
    const rows = await withScope(t.ctx.db, { orgId: p.orgId, userId: p.id, dbRole: 'patient' }, (tx) =>
      tx.query<{ id: string }>('SELECT id FROM scans'),
    );
    expect(rows.rows.map((r) => r.id)).not.toContain(scanId);
  });
});
