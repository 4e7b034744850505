/**
 * Sign-up, sign-in, second factor, refresh, sign-out and per-request authentication (SPEC A3, A4).
 *
 * Sessions: a sign-in creates a session row, the family of its refresh tokens. Each refresh token
 * works once and is replaced by a new one; presenting a used one means it was stolen or replayed,
 * and the whole session is revoked. A session also ends after inactivity and at a maximum age.
 *
 * Guessing: failed passwords and second-factor codes count towards a lockout that doubles with
 * each further failure (30 s, 1 min, 2 min … up to an hour); the HTTP layer adds rate limits.
 */
import { randomInt, timingSafeEqual } from 'node:crypto';
import { AppError, badRequest, conflict, isClinicianRole, unauthorized, type Actor, type Role } from '@scanflow/domain';
import type { AppContext } from '../context.ts';
import type { Queryable } from '../db/database.ts';
import { withSystem } from '../db/scope.ts';
import type { DbRole } from '../db/scope.ts';
import { AuditLog } from '../audit/audit-log.ts';
import { assertAcceptablePassword, hashPassword, verifyPassword } from '../auth/passwords.ts';
import { hashToken, newRefreshToken } from '../auth/tokens.ts';
import { checkTotp, newTotpSecret, totpUri } from '../auth/totp.ts';
import { enqueueMail } from './outbox.ts';

export interface RequestInfo {
  clientAddress: string | null;
}

export interface TokenPair {
  accessToken: string;
  refreshToken: string;
  expiresIn: number;
  tokenType: 'Bearer';
}

export type LoginResult =
  | ({ status: 'signed_in'; user: SignedInUser } & TokenPair)
  | { status: 'second_factor_required'; challenge: string; methods: ('totp' | 'email')[] };

export interface SignedInUser {
  id: string;
  orgId: string;
  role: Role;
  clinicianVerified: boolean;
  totpEnabled: boolean;
  /** Admins without a second factor must enrol TOTP before they can reach admin functions. */
  totpEnrolmentRequired: boolean;
}

export interface RegisterInput {
  organisation: string;
  email: string;
  password: string;
  name: string;
  role: 'patient' | 'doctor' | 'pharmacist';
  licenceNumber?: string | undefined;
  licenceJurisdiction?: string | undefined;
  dateOfBirth?: string | undefined;
  sex?: 'female' | 'male' | 'other' | 'unknown' | undefined;
}

const USER_COLUMNS = `id, org_id, role, status, password_hash, clinician_verified_at, totp_secret_enc,
  totp_enabled_at, totp_last_step, failed_logins, locked_until, email_enc`;

interface UserRow {
  id: string;
  org_id: string;
  role: Role;
  status: 'active' | 'disabled';
  password_hash: string;
  clinician_verified_at: Date | null;
  totp_secret_enc: Uint8Array | null;
  totp_enabled_at: Date | null;
  totp_last_step: number | null;
  failed_logins: number;
  locked_until: Date | null;
  email_enc: Uint8Array;
}

export interface AuthenticatedSession {
  actor: Actor;
  sessionId: string;
  dbRole: DbRole;
}

const EMAIL = /^[^\s@]{1,64}@[^\s@]{1,255}\.[^\s@]{2,}$/;
const ISO_DATE = /^\d{4}-\d{2}-\d{2}$/;
const EMAIL_CODE_TTL_SECONDS = 600;
const EMAIL_CODE_MAX_ATTEMPTS = 5;
const LAST_SEEN_GRANULARITY_SECONDS = 60;

/** The role row-level security sees: clinicians without a verified licence and admins without a
 * second factor are 'restricted' and read no clinical rows at all. */
export function dbRoleOf(actor: Actor): DbRole {
  if (isClinicianRole(actor.role) && !actor.clinicianVerified) return 'restricted';
  if (actor.role === 'admin' && !actor.mfa) return 'restricted';
  return actor.role;
}

/** How long a session's checked state is reused within this process (see `authenticate`). */
const SESSION_CACHE_MS = 2000;

interface SessionState {
  role: Role;
  orgId: string;
  verified: boolean;
  checkedAt: number;
}

export class AuthService {
  private readonly sessions = new Map<string, SessionState>();
  /**
   * Bumped by every revocation once it is committed. A session check that was already reading the
   * database when a revocation happened may have read the old state; it must not cache it.
   */
  private generation = 0;

  constructor(private readonly ctx: AppContext) {
    // Sessions revoked elsewhere in this process (disabled accounts, reset factors) are forgotten at once.
    ctx.signals.on('sessions-revoked', () => {
      this.generation++;
      this.sessions.clear();
    });
  }

  private audit(tx: Queryable | null, event: Parameters<AuditLog['record']>[0]): Promise<void> {
    return tx ? AuditLog.recordIn(tx, event) : this.ctx.audit.record(event);
  }

  async register(
    input: RegisterInput,
    info: RequestInfo,
  ): Promise<{ userId: string; role: Role; clinicianVerified: boolean }> {
    const email = input.email.trim();
    if (!EMAIL.test(email)) throw new AppError('validation_failed', 'Enter a valid e-mail address');
    assertAcceptablePassword(input.password);
    const name = input.name.trim();
    if (name.length === 0 || name.length > 200)
      throw new AppError('validation_failed', 'Enter your name (up to 200 characters)');
    const clinician = input.role !== 'patient';
    if (clinician) {
      if (!input.licenceNumber?.trim() || !input.licenceJurisdiction?.trim()) {
        throw new AppError('validation_failed', 'Doctors and pharmacists must give a licence number and jurisdiction');
      }
    }
    if (input.dateOfBirth !== undefined && !isValidDate(input.dateOfBirth)) {
      throw new AppError(
        'validation_failed',
        'Date of birth must be a real date written YYYY-MM-DD, not in the future',
      );
    }
    const passwordHash = await hashPassword(input.password);
    const { cipher } = this.ctx;

    return withSystem(this.ctx.db, async (tx) => {
      const org = await tx.query<{ id: string }>('SELECT id FROM organisations WHERE slug = $1', [
        input.organisation.trim().toLowerCase(),
      ]);
      const orgId = org.rows[0]?.id;
      if (!orgId) throw badRequest(`There is no organisation called "${input.organisation}"`);
      const lookup = cipher.lookup('email', email);
      const existing = await tx.query('SELECT 1 FROM users WHERE email_lookup = $1', [lookup]);
      if (existing.rowCount > 0) throw conflict('An account with this e-mail address already exists');
      const { rows } = await tx.query<{ id: string }>(
        `INSERT INTO users (org_id, email_lookup, email_enc, name_enc, role, password_hash, licence_number_enc,
                            licence_jurisdiction)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id`,
        [
          orgId,
          lookup,
          cipher.encrypt(email),
          cipher.encrypt(name),
          input.role,
          passwordHash,
          clinician ? cipher.encrypt(input.licenceNumber!.trim()) : null,
          clinician ? input.licenceJurisdiction!.trim() : null,
        ],
      );
      const userId = rows[0]!.id;
      if (input.role === 'patient') {
        await tx.query(
          `INSERT INTO patients (org_id, user_id, name_enc, birth_date_enc, sex_enc) VALUES ($1, $2, $3, $4, $5)`,
          [
            orgId,
            userId,
            cipher.encrypt(name),
            input.dateOfBirth ? cipher.encrypt(input.dateOfBirth) : null,
            input.sex ? cipher.encrypt(input.sex) : null,
          ],
        );
      }
      await this.audit(tx, {
        orgId,
        actorUserId: userId,
        actorRole: input.role,
        action: 'auth.register',
        resourceType: 'user',
        resourceId: userId,
        outcome: 'success',
        clientAddress: info.clientAddress,
      });
      return { userId, role: input.role, clinicianVerified: false };
    });
  }

  private async findUserByEmail(email: string): Promise<UserRow | null> {
    const { rows } = await this.ctx.db.query<UserRow>(`SELECT ${USER_COLUMNS} FROM users WHERE email_lookup = $1`, [
      this.ctx.cipher.lookup('email', email),
    ]);
    return rows[0] ?? null;
  }

  private async userById(userId: string): Promise<UserRow | null> {
    const { rows } = await this.ctx.db.query<UserRow>(`SELECT ${USER_COLUMNS} FROM users WHERE id = $1`, [userId]);
    return rows[0] ?? null;
  }

  private assertNotLocked(user: UserRow): void {
    if (user.locked_until && user.locked_until.getTime() > Date.now()) {
      const seconds = Math.ceil((user.locked_until.getTime() - Date.now()) / 1000);
      throw new AppError('locked', `Too many failed attempts. Try again in ${seconds} seconds.`, {
        retryAfterSeconds: seconds,
      });
    }
  }

  /** A sign-in attempt on a locked account is refused and audited: an intrusion signal (SPEC L4). */
  private async refuseIfLocked(user: UserRow, info: RequestInfo): Promise<void> {
    try {
      this.assertNotLocked(user);
    } catch (error) {
      await this.audit(null, {
        orgId: user.org_id,
        actorUserId: user.id,
        actorRole: user.role,
        action: 'auth.login',
        resourceType: 'user',
        resourceId: user.id,
        outcome: 'denied',
        clientAddress: info.clientAddress,
        reason: 'account locked',
      });
      throw error;
    }
  }

  /** Counts a failed password or code; locks the account with doubling back-off past the threshold. */
  private async recordFailure(user: UserRow, action: string, info: RequestInfo): Promise<void> {
    const threshold = this.ctx.config.loginLockoutThreshold;
    const failures = user.failed_logins + 1;
    const lockSeconds = failures >= threshold ? Math.min(3600, 30 * 2 ** (failures - threshold)) : 0;
    await this.ctx.db.query(
      `UPDATE users SET failed_logins = $2,
              locked_until = CASE WHEN $3::int > 0 THEN now() + make_interval(secs => $3::int) ELSE locked_until END
        WHERE id = $1`,
      [user.id, failures, lockSeconds],
    );
    await this.audit(null, {
      orgId: user.org_id,
      actorUserId: user.id,
      actorRole: user.role,
      action,
      resourceType: 'user',
      resourceId: user.id,
      outcome: 'failure',
      clientAddress: info.clientAddress,
      reason: lockSeconds > 0 ? `locked for ${lockSeconds} s after ${failures} failures` : null,
    });
  }

  async login(emailInput: string, password: string, info: RequestInfo): Promise<LoginResult> {
    const email = emailInput.trim();
    const user = EMAIL.test(email) ? await this.findUserByEmail(email) : null;
    if (user) await this.refuseIfLocked(user, info);
    const ok = await verifyPassword(user?.password_hash ?? null, password);
    if (!user || !ok) {
      if (user) await this.recordFailure(user, 'auth.login', info);
      else
        await this.audit(null, {
          orgId: null,
          actorUserId: null,
          actorRole: null,
          action: 'auth.login',
          outcome: 'failure',
          clientAddress: info.clientAddress,
          reason: 'unknown account',
        });
      throw unauthorized('The e-mail address or password is wrong');
    }
    if (user.status !== 'active') {
      await this.audit(null, {
        orgId: user.org_id,
        actorUserId: user.id,
        actorRole: user.role,
        action: 'auth.login',
        outcome: 'denied',
        clientAddress: info.clientAddress,
        reason: 'account disabled',
      });
      throw new AppError('forbidden', 'This account has been disabled. Contact your administrator.');
    }
    if (user.totp_enabled_at) {
      await this.ctx.db.query('UPDATE users SET failed_logins = 0, locked_until = NULL WHERE id = $1', [user.id]);
      const challenge = await this.ctx.tokens.issueChallenge({ userId: user.id, orgId: user.org_id });
      return { status: 'second_factor_required', challenge, methods: ['totp', 'email'] };
    }
    return { status: 'signed_in', ...(await this.startSession(user, false, 'auth.login', info)) };
  }

  private async startSession(
    user: UserRow,
    mfa: boolean,
    action: string,
    info: RequestInfo,
  ): Promise<TokenPair & { user: SignedInUser }> {
    const refreshToken = newRefreshToken();
    const sessionId = await withSystem(this.ctx.db, async (tx) => {
      await tx.query('UPDATE users SET failed_logins = 0, locked_until = NULL WHERE id = $1', [user.id]);
      const { rows } = await tx.query<{ id: string }>(
        `INSERT INTO sessions (org_id, user_id, mfa, expires_at)
         VALUES ($1, $2, $3, now() + make_interval(secs => $4::int)) RETURNING id`,
        [user.org_id, user.id, mfa, this.ctx.config.sessionMaxAgeSeconds],
      );
      const id = rows[0]!.id;
      await tx.query('INSERT INTO refresh_tokens (token_hash, session_id) VALUES ($1, $2)', [
        hashToken(refreshToken),
        id,
      ]);
      await this.audit(tx, {
        orgId: user.org_id,
        actorUserId: user.id,
        actorRole: user.role,
        action,
        resourceType: 'session',
        resourceId: id,
        outcome: 'success',
        clientAddress: info.clientAddress,
      });
      return id;
    });
    const accessToken = await this.ctx.tokens.issueAccess({
      userId: user.id,
      orgId: user.org_id,
      role: user.role,
      sessionId,
      mfa,
    });
    return {
      accessToken,
      refreshToken,
      expiresIn: this.ctx.tokens.accessTtlSeconds,
      tokenType: 'Bearer',
      user: {
        id: user.id,
        orgId: user.org_id,
        role: user.role,
        clinicianVerified: user.clinician_verified_at !== null,
        totpEnabled: user.totp_enabled_at !== null,
        totpEnrolmentRequired: user.role === 'admin' && !mfa,
      },
    };
  }

  private async userForChallenge(challenge: string): Promise<UserRow> {
    const claims = await this.ctx.tokens.verifyChallenge(challenge);
    const user = await this.userById(claims.userId);
    if (!user || user.org_id !== claims.orgId || user.status !== 'active')
      throw unauthorized('The challenge is not valid');
    this.assertNotLocked(user);
    return user;
  }

  async verifyTotpChallenge(challenge: string, code: string, info: RequestInfo) {
    const user = await this.userForChallenge(challenge);
    if (!user.totp_secret_enc || !user.totp_enabled_at) throw badRequest('This account has no authenticator enrolled');
    const result = await checkTotp(this.ctx.cipher.decrypt(user.totp_secret_enc), code.trim(), user.totp_last_step);
    if (!result.ok) {
      await this.recordFailure(user, 'auth.totp_verify', info);
      throw unauthorized('The code is wrong or has already been used');
    }
    await this.ctx.db.query('UPDATE users SET totp_last_step = $2 WHERE id = $1', [user.id, result.step]);
    return this.startSession(user, true, 'auth.totp_verify', info);
  }

  async requestEmailCode(challenge: string, info: RequestInfo): Promise<void> {
    const user = await this.userForChallenge(challenge);
    const code = String(randomInt(0, 1_000_000)).padStart(6, '0');
    await withSystem(this.ctx.db, async (tx) => {
      await tx.query(
        `INSERT INTO email_codes (user_id, code_hash, expires_at)
         VALUES ($1, $2, now() + make_interval(secs => $3::int))`,
        [user.id, hashToken(code), EMAIL_CODE_TTL_SECONDS],
      );
      await enqueueMail(tx, this.ctx.cipher, {
        orgId: user.org_id,
        kind: 'second-factor-code',
        to: this.ctx.cipher.decrypt(user.email_enc),
        subject: 'Your Scanflow sign-in code',
        body: `Your one-time sign-in code is ${code}. It expires in ${EMAIL_CODE_TTL_SECONDS / 60} minutes.\n\nIf you did not try to sign in, tell your administrator.`,
      });
      await this.audit(tx, {
        orgId: user.org_id,
        actorUserId: user.id,
        actorRole: user.role,
        action: 'auth.email_code_request',
        resourceType: 'user',
        resourceId: user.id,
        outcome: 'success',
        clientAddress: info.clientAddress,
      });
    });
  }

  async verifyEmailCode(challenge: string, code: string, info: RequestInfo) {
    const user = await this.userForChallenge(challenge);
    const { rows } = await this.ctx.db.query<{ id: string; code_hash: Uint8Array; attempts: number }>(
      `SELECT id, code_hash, attempts FROM email_codes
        WHERE user_id = $1 AND used_at IS NULL AND expires_at > now()
        ORDER BY created_at DESC LIMIT 1`,
      [user.id],
    );
    const pending = rows[0];
    const matches =
      pending !== undefined &&
      pending.attempts < EMAIL_CODE_MAX_ATTEMPTS &&
      /^\d{6}$/.test(code.trim()) &&
      timingSafeEqual(Buffer.from(pending.code_hash), hashToken(code.trim()));
    if (!pending || !matches) {
      if (pending)
        await this.ctx.db.query('UPDATE email_codes SET attempts = attempts + 1 WHERE id = $1', [pending.id]);
      await this.recordFailure(user, 'auth.email_code_verify', info);
      throw unauthorized('The code is wrong, expired or already used');
    }
    const used = await this.ctx.db.query('UPDATE email_codes SET used_at = now() WHERE id = $1 AND used_at IS NULL', [
      pending.id,
    ]);
    if (used.rowCount !== 1) throw unauthorized('The code has already been used');
    return this.startSession(user, true, 'auth.email_code_verify', info);
  }

  async refresh(refreshToken: string, info: RequestInfo): Promise<TokenPair> {
    const hash = hashToken(refreshToken);
    const { rows } = await this.ctx.db.query<{
      session_id: string;
      used_at: Date | null;
      revoked_at: Date | null;
      expired: boolean;
      idle: boolean;
      mfa: boolean;
      user_id: string;
      org_id: string;
      role: Role;
      status: string;
    }>(
      `SELECT t.session_id, t.used_at, s.revoked_at, s.expires_at < now() AS expired,
              s.last_seen_at < now() - make_interval(secs => $2::int) AS idle, s.mfa,
              u.id AS user_id, u.org_id, u.role, u.status
         FROM refresh_tokens t JOIN sessions s ON s.id = t.session_id JOIN users u ON u.id = s.user_id
        WHERE t.token_hash = $1`,
      [hash, this.ctx.config.sessionIdleTimeoutSeconds],
    );
    const row = rows[0];
    const event = (outcome: 'success' | 'denied', reason: string | null) => ({
      orgId: row?.org_id ?? null,
      actorUserId: row?.user_id ?? null,
      actorRole: row?.role ?? null,
      action: 'auth.refresh',
      resourceType: 'session',
      resourceId: row?.session_id ?? null,
      outcome,
      clientAddress: info.clientAddress,
      reason,
    });
    if (!row) {
      await this.audit(null, event('denied', 'unknown refresh token'));
      throw unauthorized('The refresh token is not valid');
    }
    if (row.revoked_at || row.expired || row.idle || row.status !== 'active') {
      if (!row.revoked_at) await this.revokeSession(row.session_id, row.idle ? 'idle' : 'expired');
      await this.audit(null, event('denied', 'session ended'));
      throw unauthorized('The session has ended; sign in again');
    }
    const next = newRefreshToken();
    const rotated = await withSystem(this.ctx.db, async (tx) => {
      // Only one presenter of a token can win this update; a second (a replay) finds used_at set.
      const mark = await tx.query(
        'UPDATE refresh_tokens SET used_at = now() WHERE token_hash = $1 AND used_at IS NULL',
        [hash],
      );
      if (mark.rowCount !== 1) return false;
      await tx.query('INSERT INTO refresh_tokens (token_hash, session_id) VALUES ($1, $2)', [
        hashToken(next),
        row.session_id,
      ]);
      await tx.query('UPDATE sessions SET last_seen_at = now() WHERE id = $1', [row.session_id]);
      await this.audit(tx, event('success', null));
      return true;
    });
    if (!rotated) {
      // Reuse of a spent refresh token: someone holds a copy. End the whole family.
      await this.revokeSession(row.session_id, 'refresh_token_reuse');
      await this.audit(null, event('denied', 'refresh token reuse: session revoked'));
      throw unauthorized('This refresh token was already used; the session has been ended for safety');
    }
    const accessToken = await this.ctx.tokens.issueAccess({
      userId: row.user_id,
      orgId: row.org_id,
      role: row.role,
      sessionId: row.session_id,
      mfa: row.mfa,
    });
    return { accessToken, refreshToken: next, expiresIn: this.ctx.tokens.accessTtlSeconds, tokenType: 'Bearer' };
  }

  async revokeSession(sessionId: string, reason: string): Promise<void> {
    this.sessions.delete(sessionId);
    await this.ctx.db.query(
      'UPDATE sessions SET revoked_at = now(), revoked_reason = $2 WHERE id = $1 AND revoked_at IS NULL',
      [sessionId, reason],
    );
    this.generation++;
    this.sessions.delete(sessionId);
  }

  async logout(session: AuthenticatedSession, info: RequestInfo): Promise<void> {
    await this.revokeSession(session.sessionId, 'logout');
    await this.audit(null, {
      orgId: session.actor.orgId,
      actorUserId: session.actor.userId,
      actorRole: session.actor.role,
      action: 'auth.logout',
      resourceType: 'session',
      resourceId: session.sessionId,
      outcome: 'success',
      clientAddress: info.clientAddress,
    });
  }

  /**
   * Checks an access token and its session on every request: the token's signature and expiry,
   * then that the session is live (not revoked, not idle, not past its maximum age) and the user
   * still active. Role and verification come from the database, so changes apply at once.
   */
  async authenticate(accessToken: string): Promise<AuthenticatedSession> {
    const claims = await this.ctx.tokens.verifyAccess(accessToken);
    // A session checked within the last two seconds is not checked again: a busy client's
    // requests share one check. Revocations in this process apply at once (revokeSession and the
    // 'sessions-revoked' signal); those made by another process apply within the two seconds.
    const cached = this.sessions.get(claims.sessionId);
    const state = cached && Date.now() - cached.checkedAt < SESSION_CACHE_MS ? cached : await this.checkSession(claims);
    const actor: Actor = {
      userId: claims.userId,
      orgId: state.orgId,
      role: state.role,
      clinicianVerified: state.verified,
      mfa: claims.mfa,
    };
    return { actor, sessionId: claims.sessionId, dbRole: dbRoleOf(actor) };
  }

  private async checkSession(claims: { sessionId: string; userId: string; orgId: string }): Promise<SessionState> {
    this.sessions.delete(claims.sessionId);
    const generation = this.generation;
    const { rows } = await this.ctx.db.query<{
      revoked: boolean;
      expired: boolean;
      idle: boolean;
      stale: boolean;
      role: Role;
      status: string;
      verified: boolean;
      org_id: string;
    }>(
      `SELECT s.revoked_at IS NOT NULL AS revoked, s.expires_at < now() AS expired,
              s.last_seen_at < now() - make_interval(secs => $3::int) AS idle,
              s.last_seen_at < now() - make_interval(secs => $4::int) AS stale,
              u.role, u.status, u.clinician_verified_at IS NOT NULL AS verified, u.org_id
         FROM sessions s JOIN users u ON u.id = s.user_id
        WHERE s.id = $1 AND s.user_id = $2`,
      [claims.sessionId, claims.userId, this.ctx.config.sessionIdleTimeoutSeconds, LAST_SEEN_GRANULARITY_SECONDS],
    );
    const row = rows[0];
    if (!row || row.org_id !== claims.orgId) throw unauthorized('The session is not valid');
    if (row.revoked) throw unauthorized('The session has ended; sign in again');
    if (row.expired) throw unauthorized('The session has expired; sign in again');
    if (row.idle) {
      await this.revokeSession(claims.sessionId, 'idle');
      throw unauthorized('The session ended after inactivity; sign in again');
    }
    if (row.status !== 'active') throw new AppError('forbidden', 'This account has been disabled');
    if (row.stale)
      await this.ctx.db.query('UPDATE sessions SET last_seen_at = now() WHERE id = $1', [claims.sessionId]);
    const state: SessionState = { role: row.role, orgId: row.org_id, verified: row.verified, checkedAt: Date.now() };
    if (this.sessions.size >= 10_000) this.sessions.clear();
    if (generation === this.generation) this.sessions.set(claims.sessionId, state);
    return state;
  }

  /** Starts TOTP enrolment: a new secret, active only once a code from it is confirmed. */
  async beginTotpEnrolment(session: AuthenticatedSession): Promise<{ secret: string; otpauthUri: string }> {
    const user = await this.userById(session.actor.userId);
    if (!user) throw unauthorized();
    if (user.totp_enabled_at) throw conflict('An authenticator is already enrolled; ask an administrator to reset it');
    const secret = newTotpSecret();
    await this.ctx.db.query('UPDATE users SET totp_secret_enc = $2, updated_at = now() WHERE id = $1', [
      user.id,
      this.ctx.cipher.encrypt(secret),
    ]);
    return { secret, otpauthUri: totpUri(secret, this.ctx.cipher.decrypt(user.email_enc)) };
  }

  /** Confirms enrolment with a first code; the current session counts as second-factor from now. */
  async confirmTotpEnrolment(
    session: AuthenticatedSession,
    code: string,
    info: RequestInfo,
  ): Promise<{ accessToken: string; expiresIn: number; tokenType: 'Bearer' }> {
    const user = await this.userById(session.actor.userId);
    if (!user?.totp_secret_enc) throw badRequest('Start enrolment first');
    if (user.totp_enabled_at) throw conflict('An authenticator is already enrolled');
    const result = await checkTotp(this.ctx.cipher.decrypt(user.totp_secret_enc), code.trim(), null);
    if (!result.ok) {
      await this.recordFailure(user, 'auth.totp_enrol', info);
      throw unauthorized('The code is wrong; check the time on your device and try again');
    }
    await withSystem(this.ctx.db, async (tx) => {
      await tx.query(
        'UPDATE users SET totp_enabled_at = now(), totp_last_step = $2, updated_at = now() WHERE id = $1',
        [user.id, result.step],
      );
      await tx.query('UPDATE sessions SET mfa = true WHERE id = $1', [session.sessionId]);
      await this.audit(tx, {
        orgId: user.org_id,
        actorUserId: user.id,
        actorRole: user.role,
        action: 'auth.totp_enrol',
        resourceType: 'user',
        resourceId: user.id,
        outcome: 'success',
        clientAddress: info.clientAddress,
      });
    });
    // The refresh token stays as it is; a new access token carries the second factor.
    const accessToken = await this.ctx.tokens.issueAccess({
      ...session.actor,
      sessionId: session.sessionId,
      mfa: true,
    });
    return { accessToken, expiresIn: this.ctx.tokens.accessTtlSeconds, tokenType: 'Bearer' };
  }
}

function isValidDate(value: string): boolean {
  if (!ISO_DATE.test(value)) return false;
  const date = new Date(`${value}T00:00:00Z`);
  return !Number.isNaN(date.getTime()) && date.toISOString().startsWith(value) && date.getTime() <= Date.now();
}
