/**
 * Administering people (SPEC A3, A4): listing users, verifying clinicians' licences, disabling
 * accounts and resetting second factors — for admins through the API, and for operators through
 * the CLI (`scanflow user create`, `scanflow user reset-2fa`), which act as the system.
 */
import { AppError, notFound, type Action, type Role } from '@scanflow/domain';
import type { AppContext } from '../context.ts';
import type { Queryable } from '../db/database.ts';
import { withSystem } from '../db/scope.ts';
import { AuditLog } from '../audit/audit-log.ts';
import { assertAcceptablePassword, hashPassword } from '../auth/passwords.ts';
import { newTotpSecret, totpUri } from '../auth/totp.ts';
import type { AuthenticatedSession } from './auth-service.ts';
import { inOrganisation } from './access.ts';

export interface UserView {
  id: string;
  email: string;
  name: string;
  role: Role;
  status: 'active' | 'disabled';
  licenceNumber: string | null;
  licenceJurisdiction: string | null;
  clinicianVerified: boolean;
  totpEnabled: boolean;
  createdAt: string;
}

interface UserRow {
  id: string;
  email_enc: Uint8Array;
  name_enc: Uint8Array;
  role: Role;
  status: 'active' | 'disabled';
  licence_number_enc: Uint8Array | null;
  licence_jurisdiction: string | null;
  clinician_verified_at: Date | null;
  totp_enabled_at: Date | null;
  created_at: Date;
}

const USER_COLUMNS = `id, email_enc, name_enc, role, status, licence_number_enc, licence_jurisdiction,
  clinician_verified_at, totp_enabled_at, created_at`;

export class UserService {
  constructor(private readonly ctx: AppContext) {}

  private view(row: UserRow): UserView {
    const c = this.ctx.cipher;
    return {
      id: row.id,
      email: c.decrypt(row.email_enc),
      name: c.decrypt(row.name_enc),
      role: row.role,
      status: row.status,
      licenceNumber: c.maybeDecrypt(row.licence_number_enc),
      licenceJurisdiction: row.licence_jurisdiction,
      clinicianVerified: row.clinician_verified_at !== null,
      totpEnabled: row.totp_enabled_at !== null,
      createdAt: row.created_at.toISOString(),
    };
  }

  private asAdmin<T>(session: AuthenticatedSession, action: Action, fn: (tx: Queryable) => Promise<T>): Promise<T> {
    return inOrganisation(this.ctx.db, session, action, fn);
  }

  async list(
    session: AuthenticatedSession,
    filter: { role?: Role | undefined; pendingVerification?: boolean | undefined; limit: number; offset: number },
  ): Promise<UserView[]> {
    return this.asAdmin(session, 'user.list', async (tx) => {
      const where: string[] = [];
      const values: unknown[] = [];
      if (filter.role) {
        values.push(filter.role);
        where.push(`role = $${values.length}`);
      }
      if (filter.pendingVerification) {
        where.push(`role IN ('doctor', 'pharmacist') AND clinician_verified_at IS NULL AND status = 'active'`);
      }
      values.push(filter.limit, filter.offset);
      const { rows } = await tx.query<UserRow>(
        `SELECT ${USER_COLUMNS} FROM users ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
          ORDER BY created_at, id LIMIT $${values.length - 1} OFFSET $${values.length}`,
        values,
      );
      return rows.map((r) => this.view(r));
    });
  }

  private async target(tx: Queryable, userId: string): Promise<UserRow> {
    const { rows } = await tx.query<UserRow>(`SELECT ${USER_COLUMNS} FROM users WHERE id = $1`, [userId]);
    if (!rows[0]) throw notFound('User');
    return rows[0];
  }

  async verifyClinician(session: AuthenticatedSession, userId: string): Promise<UserView> {
    return this.asAdmin(session, 'user.verify_clinician', async (tx) => {
      const user = await this.target(tx, userId);
      if (user.role !== 'doctor' && user.role !== 'pharmacist') {
        throw new AppError('conflict', 'Only doctors and pharmacists have licences to verify');
      }
      await tx.query(
        `UPDATE users SET clinician_verified_at = COALESCE(clinician_verified_at, now()), clinician_verified_by = $2,
                updated_at = now() WHERE id = $1`,
        [userId, session.actor.userId],
      );
      return this.view(await this.target(tx, userId));
    }).finally(() => this.ctx.signals.emit('sessions-revoked'));
  }

  async setDisabled(session: AuthenticatedSession, userId: string, disabled: boolean): Promise<UserView> {
    if (userId === session.actor.userId && disabled)
      throw new AppError('conflict', 'You cannot disable your own account');
    const view = await this.asAdmin(session, 'user.disable', async (tx) => {
      await this.target(tx, userId);
      await tx.query('UPDATE users SET status = $2, updated_at = now() WHERE id = $1', [
        userId,
        disabled ? 'disabled' : 'active',
      ]);
      return this.view(await this.target(tx, userId));
    });
    if (disabled) await this.revokeAllSessions(userId, 'account_disabled');
    return view;
  }

  async resetSecondFactor(session: AuthenticatedSession, userId: string): Promise<UserView> {
    const view = await this.asAdmin(session, 'user.reset_second_factor', async (tx) => {
      await this.target(tx, userId);
      await tx.query(
        `UPDATE users SET totp_secret_enc = NULL, totp_enabled_at = NULL, totp_last_step = NULL, updated_at = now()
          WHERE id = $1`,
        [userId],
      );
      return this.view(await this.target(tx, userId));
    });
    await this.revokeAllSessions(userId, 'second_factor_reset');
    return view;
  }

  private async revokeAllSessions(userId: string, reason: string): Promise<void> {
    await this.ctx.db.query(
      'UPDATE sessions SET revoked_at = now(), revoked_reason = $2 WHERE user_id = $1 AND revoked_at IS NULL',
      [userId, reason],
    );
    this.ctx.signals.emit('sessions-revoked');
  }

  // ---- Operator actions (CLI): the system acts, and says so in the audit trail. ----

  /**
   * Creates a user of any role in an organisation (created if new). Clinicians created by an
   * operator are verified; admins get a TOTP secret at once, since they cannot work without one.
   */
  async createAsOperator(input: {
    organisation: string;
    email: string;
    name: string;
    role: Role;
    password: string;
    dateOfBirth?: string | undefined;
  }): Promise<{ userId: string; orgId: string; totpSecret: string | null; otpauthUri: string | null }> {
    assertAcceptablePassword(input.password);
    const passwordHash = await hashPassword(input.password);
    const c = this.ctx.cipher;
    const totpSecret = input.role === 'admin' ? newTotpSecret() : null;
    return withSystem(this.ctx.db, async (tx) => {
      const slug = input.organisation.trim().toLowerCase();
      const org = await tx.query<{ id: string }>(
        `INSERT INTO organisations (slug, name) VALUES ($1, $2)
         ON CONFLICT (slug) DO UPDATE SET slug = EXCLUDED.slug RETURNING id`,
        [slug, slug],
      );
      const orgId = org.rows[0]!.id;
      const lookup = c.lookup('email', input.email);
      const exists = await tx.query('SELECT 1 FROM users WHERE email_lookup = $1', [lookup]);
      if (exists.rowCount > 0) throw new AppError('conflict', `A user with e-mail ${input.email} already exists`);
      const clinician = input.role === 'doctor' || input.role === 'pharmacist';
      const { rows } = await tx.query<{ id: string }>(
        `INSERT INTO users (org_id, email_lookup, email_enc, name_enc, role, password_hash, clinician_verified_at,
                            licence_number_enc, licence_jurisdiction, totp_secret_enc, totp_enabled_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id`,
        [
          orgId,
          lookup,
          c.encrypt(input.email.trim()),
          c.encrypt(input.name),
          input.role,
          passwordHash,
          clinician ? new Date() : null,
          clinician ? c.encrypt('operator-verified') : null,
          clinician ? 'operator' : null,
          totpSecret ? c.encrypt(totpSecret) : null,
          totpSecret ? new Date() : null,
        ],
      );
      const userId = rows[0]!.id;
      if (input.role === 'patient') {
        await tx.query('INSERT INTO patients (org_id, user_id, name_enc, birth_date_enc) VALUES ($1, $2, $3, $4)', [
          orgId,
          userId,
          c.encrypt(input.name),
          input.dateOfBirth ? c.encrypt(input.dateOfBirth) : null,
        ]);
      }
      await AuditLog.recordIn(tx, {
        orgId,
        actorUserId: null,
        actorRole: 'system',
        action: 'user.create',
        resourceType: 'user',
        resourceId: userId,
        outcome: 'success',
        reason: 'created by an operator with the CLI',
      });
      return {
        userId,
        orgId,
        totpSecret,
        otpauthUri: totpSecret ? totpUri(totpSecret, input.email.trim()) : null,
      };
    });
  }

  /** Clears a user's authenticator (CLI). The user enrols again at next sign-in. */
  async resetSecondFactorAsOperator(email: string): Promise<void> {
    const lookup = this.ctx.cipher.lookup('email', email);
    await withSystem(this.ctx.db, async (tx) => {
      const { rows } = await tx.query<{ id: string; org_id: string }>(
        `UPDATE users SET totp_secret_enc = NULL, totp_enabled_at = NULL, totp_last_step = NULL, updated_at = now()
          WHERE email_lookup = $1 RETURNING id, org_id`,
        [lookup],
      );
      const user = rows[0];
      if (!user) throw notFound('User');
      await tx.query(
        `UPDATE sessions SET revoked_at = now(), revoked_reason = 'second_factor_reset'
          WHERE user_id = $1 AND revoked_at IS NULL`,
        [user.id],
      );
      await AuditLog.recordIn(tx, {
        orgId: user.org_id,
        actorUserId: null,
        actorRole: 'system',
        action: 'user.reset_second_factor',
        resourceType: 'user',
        resourceId: user.id,
        outcome: 'success',
        reason: 'reset by an operator with the CLI',
      });
    });
  }
}
