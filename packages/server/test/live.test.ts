/**
 * The live channel (SPEC C1) with a real WebSocket client against the real app on a real port:
 * who receives what, resuming after a drop, sessions ending, bad input, and two app instances
 * sharing one PostgreSQL.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AddressInfo } from 'node:net';
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
import { TestLiveClient, type LiveMessage } from './live-client.ts';
import { recordAiResult } from '../src/services/scan-service.ts';
import type { AiResult } from '../src/repositories/scans.ts';
import { withSystem } from '../src/db/scope.ts';
import { TokenService } from '../src/auth/tokens.ts';

let t: TestApp;
let url: string;
let org: string;
let doctor: TestUser;
let secondDoctor: TestUser;
let patient: TestUser;
let otherPatient: TestUser;
let admin: TestUser;
let outsider: TestUser;

const liveUrl = (app: TestApp) => `ws://127.0.0.1:${(app.app.server.address() as AddressInfo).port}/api/v1/live`;

beforeAll(async () => {
  t = await startTestApp();
  await t.app.listen({ port: 0, host: '127.0.0.1' });
  url = liveUrl(t);
  org = uniqueSlug('live');
  const otherOrg = uniqueSlug('live-other');
  await withSystem(t.ctx.db, (tx) =>
    tx.query(`INSERT INTO organisations (slug, name) VALUES ($1, 'Live'), ($2, 'Other')`, [org, otherOrg]),
  );
  [doctor, secondDoctor, patient, otherPatient, admin, outsider] = await Promise.all([
    createUser(t, org, 'doctor'),
    createUser(t, org, 'doctor'),
    createUser(t, org, 'patient'),
    createUser(t, org, 'patient'),
    createUser(t, org, 'admin'),
    createUser(t, otherOrg, 'doctor'),
  ]);
});

afterAll(async () => {
  await t?.close();
});

const aiResult = (priorityScore: number): AiResult => ({
  model: { name: 'test-model', version: '1' },
  labels: [{ id: 'nodule', display: 'Nodule', probability: priorityScore }],
  topFinding: { id: 'nodule', display: 'Nodule', probability: priorityScore },
  uncertain: false,
  priorityScore,
  priority: priorityScore >= 0.85 ? 'HIGH' : 'ROUTINE',
  disclaimer: 'Decision support only.',
});

async function upload(app: TestApp, as: TestUser): Promise<string> {
  const body = multipart([{ name: 'x.png', bytes: await pngBytes(16, 16, Math.floor(Math.random() * 1e9)) }]);
  const res = await app.app.inject({
    method: 'POST',
    url: '/api/v1/scans',
    payload: body.payload,
    headers: { ...body.headers, ...bearer(as) },
  });
  expect(res.statusCode).toBe(201);
  return res.json().scans[0].id;
}

async function post(app: TestApp, as: TestUser, path: string, payload: unknown) {
  return app.app.inject({ method: 'POST', url: `/api/v1${path}`, payload: payload as object, headers: bearer(as) });
}

const about = (scanId: string, kind?: string) => (m: LiveMessage) =>
  m.type === 'event' && m.data?.scanId === scanId && (kind === undefined || m.kind === kind);

describe('who receives what', () => {
  it('pushes a new urgent case to the doctors of its organisation, not to another organisation', async () => {
    const [mine, other] = await Promise.all([
      TestLiveClient.connect(url, doctor.token),
      TestLiveClient.connect(url, outsider.token),
    ]);
    const scanId = await upload(t, patient);
    await recordAiResult(t.ctx, { orgId: patient.orgId, scanId }, aiResult(0.95));
    const urgent = await mine.next(about(scanId, 'scan.urgent'));
    expect(urgent.data).toMatchObject({ scanId, status: 'AI_ANALYZED', priority: 'HIGH' });
    expect(typeof urgent.id).toBe('number');
    await mine.next(about(scanId, 'scan.status'));
    expect(await other.quietFor(300, about(scanId))).toEqual([]);
    mine.close();
    other.close();
  });

  it('gives a patient their own scans’ status changes only, and no urgent-case or discussion events', async () => {
    const [own, notOwn, doctorView] = await Promise.all([
      TestLiveClient.connect(url, patient.token),
      TestLiveClient.connect(url, otherPatient.token),
      TestLiveClient.connect(url, doctor.token),
    ]);
    const scanId = await upload(t, patient);
    expect((await own.next(about(scanId, 'scan.status'))).data).toMatchObject({ status: 'PENDING_AI' });
    await recordAiResult(t.ctx, { orgId: patient.orgId, scanId }, aiResult(0.97));
    const analysed = await own.next((m) => about(scanId, 'scan.status')(m) && m.data?.status === 'AI_ANALYZED');
    expect(analysed.data).toMatchObject({ previousStatus: 'PENDING_AI' });
    await doctorView.next(about(scanId, 'scan.urgent'));
    expect((await post(t, doctor, `/scans/${scanId}/messages`, { text: 'Looks like a nodule' })).statusCode).toBe(201);
    await doctorView.next(about(scanId, 'discussion.message'));
    expect(own.events.filter(about(scanId)).map((m) => m.kind)).toEqual(['scan.status', 'scan.status']);
    expect(await notOwn.quietFor(200, about(scanId))).toEqual([]);
    [own, notOwn, doctorView].forEach((c) => c.close());
  });

  it('delivers a chat message to another clinician of the case, with its text', async () => {
    const scanId = await upload(t, patient);
    const listener = await TestLiveClient.connect(url, secondDoctor.token);
    const res = await post(t, doctor, `/scans/${scanId}/messages`, { text: 'Please look at the left apex' });
    expect(res.statusCode).toBe(201);
    const event = await listener.next(about(scanId, 'discussion.message'));
    expect(event.data).toMatchObject({
      message: { id: res.json().id, text: 'Please look at the left apex', author: { id: doctor.id, role: 'doctor' } },
    });
    listener.close();
  });

  it('delivers an annotation drawn by one doctor to another', async () => {
    const scanId = await upload(t, patient);
    const listener = await TestLiveClient.connect(url, secondDoctor.token);
    const res = await post(t, doctor, `/scans/${scanId}/annotations`, {
      geometry: { kind: 'arrow', from: { x: 1, y: 1 }, to: { x: 8, y: 9 } },
      label: 'here',
    });
    expect(res.statusCode).toBe(201);
    const event = await listener.next(about(scanId, 'annotation.changed'));
    expect(event.data).toMatchObject({ annotation: { id: res.json().id, kind: 'arrow', label: 'here', version: 1 } });
    listener.close();
  });
});

describe('second opinions', () => {
  it('reaches the requested doctor live, and the answer reaches the one who asked', async () => {
    const scanId = await upload(t, patient);
    const [asker, asked] = await Promise.all([
      TestLiveClient.connect(url, doctor.token),
      TestLiveClient.connect(url, secondDoctor.token),
    ]);
    const res = await post(t, doctor, `/scans/${scanId}/second-opinions`, {
      doctorId: secondDoctor.id,
      note: 'Vessel?',
    });
    expect(res.statusCode).toBe(201);
    const request = await asked.next(about(scanId, 'second_opinion.changed'));
    expect(request.data).toMatchObject({
      request: { id: res.json().id, status: 'requested', requestedOf: { id: secondDoctor.id } },
    });
    await post(t, secondDoctor, `/second-opinions/${res.json().id}/answer`, { text: 'A vessel.' });
    const answered = await asker.next(
      (m) =>
        about(scanId, 'second_opinion.changed')(m) &&
        (m.data as { request: { status: string } }).request.status === 'answered',
    );
    expect(answered.data).toMatchObject({ request: { response: 'A vessel.' } });
    await asker.next(about(scanId, 'discussion.message'));
    asker.close();
    asked.close();
  });
});

describe('resuming after a drop', () => {
  it('replays what was missed, in order, once, then continues live', async () => {
    const scanId = await upload(t, patient);
    const first = await TestLiveClient.connect(url, secondDoctor.token);
    const ready = first.messages.find((m) => m.type === 'ready')!;
    const seen = ready.lastEventId!;
    first.close();
    await first.closed;

    const texts = ['one', 'two', 'three'];
    for (const text of texts) {
      expect((await post(t, doctor, `/scans/${scanId}/messages`, { text })).statusCode).toBe(201);
    }
    const again = await TestLiveClient.connect(url, secondDoctor.token, seen);
    // Produced while the replay is read: arrives after it, not twice.
    expect((await post(t, doctor, `/scans/${scanId}/messages`, { text: 'four' })).statusCode).toBe(201);
    await again.next(
      (m) =>
        about(scanId, 'discussion.message')(m) && (m.data as { message: { text: string } }).message.text === 'four',
    );
    const received = again.events.filter(about(scanId, 'discussion.message'));
    expect(received.map((m) => (m.data as { message: { text: string } }).message.text)).toEqual([...texts, 'four']);
    const ids = again.events.map((m) => m.id!);
    expect(ids).toEqual([...ids].sort((a, b) => a - b));
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids[0]).toBeGreaterThan(seen);
    // The replayed events come before "ready".
    const readyAt = again.messages.findIndex((m) => m.type === 'ready');
    expect(again.messages.slice(0, readyAt).filter(about(scanId)).length).toBe(3);
    again.close();
  });

  it('tells a client whose resume point is no longer kept to reload', async () => {
    const client = await TestLiveClient.connect(url, doctor.token, Number.MAX_SAFE_INTEGER);
    expect(client.messages.find((m) => m.type === 'reset')?.reason).toMatch(/reload/);
    client.close();
  });
});

describe('sessions', () => {
  it('closes the socket when the access token expires', async () => {
    const claims = await t.ctx.tokens.verifyAccess(secondDoctor.token);
    // Expiry is in whole seconds, so a 1-second token can expire before the socket is even
    // authenticated; 3 seconds leaves at least 2 for the connection, then it must be closed.
    const shortLived = await new TokenService(t.ctx.keys.tokenKey, 3).issueAccess(claims);
    const client = await TestLiveClient.connect(url, shortLived);
    const closed = await client.closed;
    expect(closed.code).toBe(4401);
    expect(closed.reason).toMatch(/expired/);
  });

  it('closes the socket when the account is disabled (its sessions revoked)', async () => {
    const victim = await createUser(t, org, 'pharmacist');
    const client = await TestLiveClient.connect(url, victim.token);
    const res = await t.app.inject({
      method: 'POST',
      url: `/api/v1/admin/users/${victim.id}/disable`,
      headers: bearer(admin),
    });
    expect(res.statusCode).toBe(200);
    const closed = await client.closed;
    expect(closed.code).toBe(4401);
    expect(closed.reason).toMatch(/session has ended/);
  });

  it('closes the socket at once when its session signs out, and not the same user’s other sessions', async () => {
    const user = await createUser(t, org, 'doctor');
    const other = await signIn(t, user.email, user.password, null);
    const [leaving, staying] = await Promise.all([
      TestLiveClient.connect(url, user.token),
      TestLiveClient.connect(url, other.token),
    ]);
    const started = Date.now();
    expect((await t.app.inject({ method: 'POST', url: '/api/v1/auth/logout', headers: bearer(user) })).statusCode).toBe(
      204,
    );
    const closed = await leaving.closed;
    expect(closed).toEqual({ code: 4401, reason: 'The session has ended; sign in again' });
    // Well before the periodic re-check (15 s): the revocation itself is announced.
    expect(Date.now() - started).toBeLessThan(10_000);
    staying.send({ type: 'ping' });
    await staying.next((m) => m.type === 'pong');
    staying.close();
  });

  it('refuses a forged token and a connection that never signs in', async () => {
    const forged = await TestLiveClient.connect(url);
    forged.send({ type: 'auth', token: `${doctor.token.slice(0, -4)}AAAA` });
    expect((await forged.closed).code).toBe(4401);
    const silent = await TestLiveClient.connect(url);
    silent.send({ type: 'ping' });
    expect((await silent.next((m) => m.type === 'pong')).type).toBe('pong');
    // No events before signing in.
    expect(silent.events).toEqual([]);
    silent.close();
  });
});

describe('bad input', () => {
  it('closes on malformed JSON, unknown messages and oversized frames, with a reason; the server carries on', async () => {
    const cases: [unknown, number, RegExp][] = [
      ['{not json', 4400, /not JSON/],
      [{ type: 'subscribe' }, 4400, /type must be/],
      [{ type: 'auth', token: 42 }, 4400, /token/],
      [{ type: 'auth', token: doctor.token, lastEventId: -1 }, 4400, /lastEventId/],
      ['x'.repeat(20_000), 1009, /too big/],
    ];
    for (const [message, code, reason] of cases) {
      const client = await TestLiveClient.connect(url);
      client.send(message);
      const closed = await client.closed;
      expect(closed.code, String(message).slice(0, 40)).toBe(code);
      expect(closed.reason).toMatch(reason);
    }
    const huge = await TestLiveClient.connect(url);
    huge.send('x'.repeat(2 * 1024 * 1024));
    expect((await huge.closed).code).toBe(1009);
    // Still serving.
    const fine = await TestLiveClient.connect(url, doctor.token);
    expect(fine.messages.some((m) => m.type === 'ready')).toBe(true);
    fine.close();
  });
});

describe.skipIf(!process.env.TEST_DATABASE_URL)('several processes on one PostgreSQL', () => {
  it('delivers an event produced through one instance to a client of another', async () => {
    // Processes of one deployment share the master key (and so token and field keys).
    const other = await startTestApp({ SCANFLOW_MASTER_KEY: t.ctx.config.masterKey! });
    try {
      await other.app.listen({ port: 0, host: '127.0.0.1' });
      const scanId = await upload(t, patient);
      const listener = await TestLiveClient.connect(liveUrl(other), secondDoctor.token);
      const res = await post(t, doctor, `/scans/${scanId}/messages`, { text: 'across processes' });
      expect(res.statusCode).toBe(201);
      const event = await listener.next(about(scanId, 'discussion.message'));
      expect((event.data as { message: { text: string } }).message.text).toBe('across processes');
      // A sign-out through one instance closes that session's socket on the other.
      const user = await createUser(t, org, 'pharmacist');
      const there = await TestLiveClient.connect(liveUrl(other), user.token);
      await t.app.inject({ method: 'POST', url: '/api/v1/auth/logout', headers: bearer(user) });
      expect((await there.closed).code).toBe(4401);
      listener.close();
    } finally {
      await other.close();
    }
  });
});
