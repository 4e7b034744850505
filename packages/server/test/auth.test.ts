import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SignJWT } from 'jose';
import { currentTotp } from '../src/auth/totp.ts';
import { bearer, createUser, signIn, startTestApp, uniqueEmail, uniqueSlug, type TestApp } from './harness.ts';

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp({ LOGIN_LOCKOUT_THRESHOLD: '3' });
});
afterAll(async () => t?.close());

const post = (url: string, payload: unknown, headers: Record<string, string> = {}) =>
  t.app.inject({ method: 'POST', url, payload: payload as object, headers });

describe('registration', () => {
  it('registers a patient who can sign in and see their (empty) scans', async () => {
    const org = uniqueSlug();
    await createUser(t, org, 'admin'); // creates the organisation
    const email = uniqueEmail('patient');
    const reg = await post('/api/v1/auth/register', {
      organisation: org,
      email,
      password: 'correct horse battery',
      name: 'Kavya சுப்ரமணியம்',
      role: 'patient',
      dateOfBirth: '1990-02-03',
    });
    expect(reg.statusCode).toBe(201);
    const session = await signIn(t, email, 'correct horse battery', null);
    const scans = await t.app.inject({
      method: 'GET',
      url: '/api/v1/scans',
      headers: bearer({ token: session.token }),
    });
    expect(scans.statusCode).toBe(200);
    expect(scans.json().items).toEqual([]);
    // Stored encrypted: neither the e-mail address nor the name appears in the row.
    const raw = await t.ctx.db.query<{ row: string }>('SELECT u::text AS row FROM users u WHERE id = $1', [
      reg.json().userId,
    ]);
    expect(raw.rows[0]!.row).not.toContain(email);
    expect(raw.rows[0]!.row).not.toContain('Kavya');
  });

  it('keeps unverified clinicians away from clinical data until an admin verifies them', async () => {
    const org = uniqueSlug();
    const admin = await createUser(t, org, 'admin');
    const email = uniqueEmail('doctor');
    const reg = await post('/api/v1/auth/register', {
      organisation: org,
      email,
      password: 'a long doctor password',
      name: 'Dr New',
      role: 'doctor',
      licenceNumber: 'GMC-1234567',
      licenceJurisdiction: 'UK',
    });
    expect(reg.statusCode).toBe(201);
    const doctor = await signIn(t, email, 'a long doctor password', null);
    const before = await t.app.inject({
      method: 'GET',
      url: '/api/v1/scans',
      headers: bearer({ token: doctor.token }),
    });
    expect(before.statusCode).toBe(403);
    expect(before.json().error.message).toMatch(/not been verified/);

    const pending = await t.app.inject({
      method: 'GET',
      url: '/api/v1/admin/users?pending=true',
      headers: bearer(admin),
    });
    expect(pending.json().items.map((u: { email: string }) => u.email)).toContain(email);
    const verify = await post(`/api/v1/admin/users/${reg.json().userId}/verify`, {}, bearer(admin));
    expect(verify.statusCode).toBe(200);
    expect(verify.json().clinicianVerified).toBe(true);
    const after = await t.app.inject({ method: 'GET', url: '/api/v1/scans', headers: bearer({ token: doctor.token }) });
    expect(after.statusCode).toBe(200);
  });

  it.each([
    [{ role: 'doctor' }, /licence number/],
    [{ password: 'short' }, /at least 10/],
    [{ email: 'not-an-email' }, /valid e-mail/],
    [{ organisation: 'no-such-org-x' }, /no organisation/],
    [{ role: 'admin' }, /Invalid request/],
    [{ dateOfBirth: '2999-01-01' }, /Date of birth/],
  ])('refuses bad registration %j with a clear message', async (override, message) => {
    const res = await post('/api/v1/auth/register', {
      organisation: 'demo-missing',
      email: uniqueEmail('p'),
      password: 'long enough password',
      name: 'X',
      role: 'patient',
      ...override,
    });
    expect(res.statusCode).toBeGreaterThanOrEqual(400);
    expect(res.statusCode).toBeLessThan(500);
    expect(res.json().error.message).toMatch(message);
  });
});

describe('sign-in', () => {
  it('locks an account after repeated failures, with a growing back-off', async () => {
    const user = await createUser(t, uniqueSlug(), 'doctor');
    for (let i = 0; i < 3; i++) {
      const res = await post('/api/v1/auth/login', { email: user.email, password: 'wrong password!' });
      expect(res.statusCode).toBe(401);
    }
    const locked = await post('/api/v1/auth/login', { email: user.email, password: user.password });
    expect(locked.statusCode).toBe(423);
    expect(locked.headers['retry-after']).toBeDefined();
    expect(locked.json().error.message).toMatch(/Try again in \d+ seconds/);
  });

  it('requires TOTP for admins and refuses a replayed code', async () => {
    const admin = await createUser(t, uniqueSlug(), 'admin');
    const login = await post('/api/v1/auth/login', { email: admin.email, password: admin.password });
    expect(login.json().status).toBe('second_factor_required');
    const challenge = login.json().challenge as string;
    // The challenge is not an access token.
    const misuse = await t.app.inject({
      method: 'GET',
      url: '/api/v1/scans',
      headers: { authorization: `Bearer ${challenge}` },
    });
    expect(misuse.statusCode).toBe(401);
    // createUser already used the current code; the same code again is a replay.
    const code = await currentTotp(admin.totpSecret!);
    const replay = await post('/api/v1/auth/totp/verify', { challenge, code });
    expect(replay.statusCode).toBe(401);
  });

  it('gives an admin without a second factor no admin functions until TOTP is enrolled', async () => {
    const org = uniqueSlug();
    const admin = await createUser(t, org, 'admin');
    // Reset the admin's authenticator, then sign in with the password alone.
    const other = await createUser(t, org, 'admin');
    const reset = await post(`/api/v1/admin/users/${admin.id}/reset-second-factor`, {}, bearer(other));
    expect(reset.statusCode).toBe(200);
    const session = await signIn(t, admin.email, admin.password, null);
    const denied = await t.app.inject({
      method: 'GET',
      url: '/api/v1/audit',
      headers: bearer({ token: session.token }),
    });
    expect(denied.statusCode).toBe(401);
    expect(denied.json().error.code).toBe('mfa_required');

    const enrol = await post('/api/v1/auth/totp/enrol', {}, bearer({ token: session.token }));
    expect(enrol.json().otpauthUri).toMatch(/^otpauth:\/\/totp\//);
    const confirm = await post(
      '/api/v1/auth/totp/confirm',
      { code: await currentTotp(enrol.json().secret) },
      bearer({ token: session.token }),
    );
    expect(confirm.statusCode).toBe(200);
    const allowed = await t.app.inject({
      method: 'GET',
      url: '/api/v1/audit',
      headers: bearer({ token: confirm.json().accessToken }),
    });
    expect(allowed.statusCode).toBe(200);
  });

  it('signs in with a one-time e-mail code sent to the outbox', async () => {
    const org = uniqueSlug();
    const admin = await createUser(t, org, 'admin');
    const login = await post('/api/v1/auth/login', { email: admin.email, password: admin.password });
    const challenge = login.json().challenge as string;
    expect((await post('/api/v1/auth/email-code', { challenge })).statusCode).toBe(202);
    const outbox = await t.app.inject({ method: 'GET', url: '/api/v1/admin/outbox', headers: bearer(admin) });
    const mail = outbox.json().items.find((m: { to: string }) => m.to === admin.email);
    const code = /code is (\d{6})/.exec(mail.body)![1]!;
    expect((await post('/api/v1/auth/email-code/verify', { challenge, code: '000000' })).statusCode).toBe(401);
    const ok = await post('/api/v1/auth/email-code/verify', { challenge, code });
    expect(ok.statusCode).toBe(200);
    expect((await post('/api/v1/auth/email-code/verify', { challenge, code })).statusCode).toBe(401); // once only
  });
});

describe('tokens', () => {
  it('rotates refresh tokens and revokes the whole family on reuse', async () => {
    const user = await createUser(t, uniqueSlug(), 'patient');
    const first = await post('/api/v1/auth/refresh', { refreshToken: user.refreshToken });
    expect(first.statusCode).toBe(200);
    const second = await post('/api/v1/auth/refresh', { refreshToken: first.json().refreshToken });
    expect(second.statusCode).toBe(200);
    // An attacker replays the first refresh token: refused, and the session ends.
    const reuse = await post('/api/v1/auth/refresh', { refreshToken: user.refreshToken });
    expect(reuse.statusCode).toBe(401);
    const after = await post('/api/v1/auth/refresh', { refreshToken: second.json().refreshToken });
    expect(after.statusCode).toBe(401);
    const access = await t.app.inject({
      method: 'GET',
      url: '/api/v1/scans',
      headers: bearer({ token: second.json().accessToken }),
    });
    expect(access.statusCode).toBe(401);
  });

  it('ends the session on logout', async () => {
    const user = await createUser(t, uniqueSlug(), 'patient');
    expect((await post('/api/v1/auth/logout', {}, bearer(user))).statusCode).toBe(204);
    expect((await t.app.inject({ method: 'GET', url: '/api/v1/scans', headers: bearer(user) })).statusCode).toBe(401);
    expect((await post('/api/v1/auth/refresh', { refreshToken: user.refreshToken })).statusCode).toBe(401);
  });

  it('refuses alg none, a wrong key, an expired token and a tampered payload', async () => {
    const user = await createUser(t, uniqueSlug(), 'patient');
    const [header, payload, signature] = user.token.split('.') as [string, string, string];
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString());
    const none = `${Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url')}.${payload}.`;
    const wrongKey = await new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).sign(new Uint8Array(32));
    const expired = await new SignJWT({ ...claims, exp: Math.floor(Date.now() / 1000) - 10 })
      .setProtectedHeader({ alg: 'HS256' })
      .sign(t.ctx.keys.tokenKey);
    const escalated = `${header}.${Buffer.from(JSON.stringify({ ...claims, role: 'admin', mfa: true })).toString('base64url')}.${signature}`;
    for (const token of [none, wrongKey, expired, escalated, 'garbage', '']) {
      const res = await t.app.inject({
        method: 'GET',
        url: '/api/v1/scans',
        headers: { authorization: `Bearer ${token}` },
      });
      expect(res.statusCode, token).toBe(401);
      expect(res.json().error.code).toBe('unauthorized');
    }
    const res = await t.app.inject({
      method: 'GET',
      url: '/api/v1/scans',
      headers: { authorization: `Bearer ${expired}` },
    });
    expect(res.json().error.message).toMatch(/expired/);
  });

  it('ends a session after inactivity', async () => {
    const user = await createUser(t, uniqueSlug(), 'patient');
    await t.ctx.db.query(`UPDATE sessions SET last_seen_at = now() - interval '2 hours' WHERE user_id = $1`, [user.id]);
    const res = await t.app.inject({ method: 'GET', url: '/api/v1/scans', headers: bearer(user) });
    expect(res.statusCode).toBe(401);
    expect(res.json().error.message).toMatch(/inactivity/);
  });

  it('rate-limits the authentication routes', async () => {
    const limited = await startTestApp({ AUTH_RATE_LIMIT_PER_MINUTE: '3' });
    try {
      const codes: number[] = [];
      for (let i = 0; i < 5; i++) {
        const res = await limited.app.inject({
          method: 'POST',
          url: '/api/v1/auth/login',
          payload: { email: 'nobody@example.test', password: 'whatever-password' },
        });
        codes.push(res.statusCode);
      }
      expect(codes.slice(0, 3)).toEqual([401, 401, 401]);
      expect(codes.slice(3)).toEqual([429, 429]);
    } finally {
      await limited.close();
    }
  });
});
