/**
 * Image integrity (SPEC L3) and intrusion signals (L4): a scan whose stored bytes changed is
 * caught on the next read, flagged, queued for a second opinion, raised as an alert and logged;
 * failed sign-ins, lockouts, refused accesses and rejected tokens are listed and summarised for
 * administrators, and each is a leaf of the organisation's log.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withSystem } from '../src/db/scope.ts';
import { ledgerFor } from '../src/services/ledger-service.ts';
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
import { pngBytes } from './fixtures.ts';

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp({ LOGIN_LOCKOUT_THRESHOLD: '3' });
});
afterAll(async () => t?.close());

async function loggedActions(
  orgId: string,
): Promise<{ action: string; outcome: string; extra: Record<string, unknown> }[]> {
  await ledgerFor(t.ctx).sequenceNow();
  const { rows } = await withSystem(t.ctx.db, (tx) =>
    tx.query<{ entry: Uint8Array }>(`SELECT entry FROM ledger_entries WHERE log_id = $1 ORDER BY leaf_index`, [orgId]),
  );
  return rows.map((r) => JSON.parse(Buffer.from(r.entry).toString('utf8')));
}

describe('image integrity', () => {
  it('flags tampered bytes on the next read: 409, alert, second-opinion queue, a leaf in the log', async () => {
    const org = uniqueSlug('integrity');
    const admin = await createUser(t, org, 'admin');
    const doctor = await createUser(t, org, 'doctor');
    const patient = await createUser(t, org, 'patient');
    const body = multipart([{ name: 'x.png', bytes: await pngBytes(24, 24, 91) }]);
    const up = await t.app.inject({
      method: 'POST',
      url: '/api/v1/scans',
      payload: body.payload,
      headers: { ...body.headers, ...bearer(patient) },
    });
    const { id, sha256 } = up.json().scans[0];
    // The stored scan's hash is a leaf before anything happens to it.
    expect((await loggedActions(admin.orgId)).some((e) => e.extra.sha256 === sha256)).toBe(true);

    tamperBlob(t, sha256, { fromEnd: 5, mask: 0x01 });

    const read = await t.app.inject({ url: `/api/v1/scans/${id}/image`, headers: bearer(doctor) });
    expect(read.statusCode).toBe(409);
    expect(read.json().error.code).toBe('integrity_failure');
    const detail = await t.app.inject({ url: `/api/v1/scans/${id}`, headers: bearer(doctor) });
    expect(detail.json().integrity).toBe('mismatch');

    const queued = await withSystem(t.ctx.db, (tx) =>
      tx.query<{ second_opinion_since: Date | null }>(`SELECT second_opinion_since FROM scans WHERE id = $1`, [id]),
    );
    expect(queued.rows[0]!.second_opinion_since).not.toBeNull();
    expect(detail.json().secondOpinionSince).toEqual(expect.any(String));
    // The queue doctors and administrators work from; nobody else sees it.
    for (const reviewer of [doctor, admin]) {
      const review = await t.app.inject({ url: '/api/v1/scans/integrity-review', headers: bearer(reviewer) });
      expect(review.statusCode, review.body).toBe(200);
      expect(review.json().items.map((s: { id: string; integrity: string }) => [s.id, s.integrity])).toEqual([
        [id, 'mismatch'],
      ]);
    }
    const refused = await t.app.inject({ url: '/api/v1/scans/integrity-review', headers: bearer(patient) });
    expect(refused.statusCode).toBe(403);
    const alerts = (await t.app.inject({ url: '/api/v1/admin/alerts', headers: bearer(admin) })).json().items;
    expect(alerts).toContainEqual(
      expect.objectContaining({
        kind: 'scan.integrity_mismatch',
        resourceId: id,
        scope: 'organisation',
        details: { sha256 },
      }),
    );
    expect((await t.app.inject({ url: '/api/v1/admin/alerts', headers: bearer(doctor) })).statusCode).toBe(403);
    const failure = (await loggedActions(admin.orgId)).find((e) => e.action === 'scan.integrity_failure');
    expect(failure).toMatchObject({ outcome: 'failure' });
  });
});

describe('intrusion signals', () => {
  it('lists and summarises failed sign-ins, lockouts, refused accesses and rejected tokens', async () => {
    const org = uniqueSlug('signals');
    const admin = await createUser(t, org, 'admin');
    const victim: TestUser = await createUser(t, org, 'doctor');
    const login = (password: string) =>
      t.app.inject({
        method: 'POST',
        url: '/api/v1/auth/login',
        payload: { email: victim.email, password },
        remoteAddress: '203.0.113.7',
      });
    for (let i = 0; i < 3; i++) expect((await login('wrong-password')).statusCode).toBe(401);
    expect((await login(victim.password)).statusCode).toBe(423); // locked out
    expect((await t.app.inject({ url: '/api/v1/admin/users', headers: bearer(victim) })).statusCode).toBe(403);
    const forged = `${victim.token.slice(0, -4)}AAAA`;
    expect(
      (await t.app.inject({ url: '/api/v1/scans', headers: { authorization: `Bearer ${forged}` } })).statusCode,
    ).toBe(401);

    const res = await t.app.inject({ url: '/api/v1/admin/security-signals?bucket=day', headers: bearer(admin) });
    expect(res.statusCode).toBe(200);
    const signals = res.json();
    const count = (action: string, outcome: string) =>
      signals.byAction.find((a: { action: string; outcome: string }) => a.action === action && a.outcome === outcome)
        ?.count ?? 0;
    expect(count('auth.login', 'failure')).toBe(3);
    expect(count('auth.login', 'denied')).toBe(1);
    expect(count('user.list', 'denied')).toBe(1);
    expect(signals.byUser).toContainEqual({ actorUserId: victim.id, count: 5 });
    expect(signals.byAddress).toContainEqual({ clientAddress: '203.0.113.7', count: 4 });
    expect(signals.overTime.reduce((n: number, b: { count: number }) => n + b.count, 0)).toBe(signals.total);
    expect(signals.recent[0].reason).toBeDefined();
    expect((await t.app.inject({ url: '/api/v1/admin/security-signals', headers: bearer(victim) })).statusCode).toBe(
      403,
    );
    expect(
      (
        await t.app.inject({
          url: '/api/v1/admin/security-signals?from=2026-01-02T00:00:00Z&to=2026-01-01T00:00:00Z',
          headers: bearer(admin),
        })
      ).statusCode,
    ).toBe(400);

    // Each signal is a leaf of the organisation's log; the rejected token (no organisation
    // known) is a leaf of the system log.
    const logged = await loggedActions(admin.orgId);
    expect(logged.filter((e) => e.action === 'auth.login' && e.outcome !== 'success')).toHaveLength(4);
    const system = await withSystem(t.ctx.db, (tx) =>
      tx.query<{ n: number }>(
        `SELECT count(*) AS n FROM ledger_entries WHERE log_id = 'system' AND convert_from(entry, 'UTF8') LIKE '%"tokenRejected":true%'`,
      ),
    );
    expect(Number(system.rows[0]!.n)).toBeGreaterThan(0);
  });
});
