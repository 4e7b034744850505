/**
 * A case's discussion (SPEC C2): chat among the clinicians who can see the case, and
 * second-opinion requests to a named doctor of the same organisation, who finds them in their
 * worklist and answers through the chat (or declines). Clinical text is encrypted in its row.
 * Publishing to the live channel is the database's job (triggers in 0008_collaboration.sql).
 */
import { AppError, conflict, decide, notFound } from '@scanflow/domain';
import type { AppContext } from '../context.ts';
import type { Queryable } from '../db/database.ts';
import { withScope } from '../db/scope.ts';
import type { FieldCipher } from '../storage/field-cipher.ts';
import { enforce, scopeOf } from './access.ts';
import type { AuthenticatedSession } from './auth-service.ts';
import { openCase } from './case-access.ts';

export const MAX_MESSAGE_LENGTH = 4000;

export interface Person {
  id: string;
  name: string;
  role: string;
}

export interface CaseMessage {
  id: string;
  scanId: string;
  author: Person;
  text: string;
  /** Set when the message answers a second-opinion request. */
  secondOpinionId: string | null;
  createdAt: string;
}

export type SecondOpinionStatus = 'requested' | 'answered' | 'declined';

export interface SecondOpinion {
  id: string;
  scanId: string;
  requestedBy: Person;
  requestedOf: Person;
  status: SecondOpinionStatus;
  note: string | null;
  response: string | null;
  createdAt: string;
  respondedAt: string | null;
  /** The case as it stands, for the requested doctor's worklist. */
  scan: { status: string; priority: string | null };
}

interface MessageRow {
  id: string;
  scan_id: string;
  author_user_id: string;
  author_role: string;
  author_name_enc: Uint8Array;
  body_enc: Uint8Array;
  second_opinion_id: string | null;
  created_at: string;
}

interface SecondOpinionRow {
  id: string;
  scan_id: string;
  requested_by: string;
  requested_by_name_enc: Uint8Array;
  requested_of: string;
  requested_of_name_enc: Uint8Array;
  status: SecondOpinionStatus;
  note_enc: Uint8Array | null;
  response_enc: Uint8Array | null;
  created_at: string;
  responded_at: string | null;
  scan_status: string;
  scan_priority: string | null;
}

const ISO = (column: string) => `to_char(${column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;

const MESSAGE_SELECT = `SELECT m.id, m.scan_id, m.author_user_id, m.author_role, u.name_enc AS author_name_enc, m.body_enc,
    m.second_opinion_id, ${ISO('m.created_at')} AS created_at
  FROM case_messages m JOIN users u ON u.id = m.author_user_id`;

const OPINION_SELECT = `SELECT o.id, o.scan_id, o.requested_by, rb.name_enc AS requested_by_name_enc, o.requested_of,
    ro.name_enc AS requested_of_name_enc, o.status, o.note_enc, o.response_enc, ${ISO('o.created_at')} AS created_at,
    ${ISO('o.responded_at')} AS responded_at, s.status AS scan_status, s.priority AS scan_priority
  FROM second_opinions o JOIN users rb ON rb.id = o.requested_by JOIN users ro ON ro.id = o.requested_of
  JOIN scans s ON s.id = o.scan_id`;

export function toMessage(row: MessageRow, cipher: FieldCipher): CaseMessage {
  return {
    id: row.id,
    scanId: row.scan_id,
    author: { id: row.author_user_id, name: cipher.decryptCached(row.author_name_enc), role: row.author_role },
    text: cipher.decrypt(row.body_enc),
    secondOpinionId: row.second_opinion_id,
    createdAt: row.created_at,
  };
}

export function toSecondOpinion(row: SecondOpinionRow, cipher: FieldCipher): SecondOpinion {
  return {
    id: row.id,
    scanId: row.scan_id,
    requestedBy: { id: row.requested_by, name: cipher.decryptCached(row.requested_by_name_enc), role: 'doctor' },
    requestedOf: { id: row.requested_of, name: cipher.decryptCached(row.requested_of_name_enc), role: 'doctor' },
    status: row.status,
    note: cipher.maybeDecrypt(row.note_enc),
    response: cipher.maybeDecrypt(row.response_enc),
    createdAt: row.created_at,
    respondedAt: row.responded_at,
    scan: { status: row.scan_status, priority: row.scan_priority },
  };
}

export async function findMessage(tx: Queryable, cipher: FieldCipher, id: string): Promise<CaseMessage | null> {
  const { rows } = await tx.query<MessageRow>(`${MESSAGE_SELECT} WHERE m.id = $1`, [id]);
  return rows[0] ? toMessage(rows[0], cipher) : null;
}

export async function findSecondOpinion(tx: Queryable, cipher: FieldCipher, id: string): Promise<SecondOpinion | null> {
  const { rows } = await tx.query<SecondOpinionRow>(`${OPINION_SELECT} WHERE o.id = $1`, [id]);
  return rows[0] ? toSecondOpinion(rows[0], cipher) : null;
}

/** Clinical free text: trimmed, not empty, bounded. */
function clinicalText(value: string | undefined, what: string, required: boolean): string | null {
  const text = value?.trim() ?? '';
  if (text.length === 0) {
    if (required) throw new AppError('validation_failed', `${what} must not be empty`);
    return null;
  }
  if (text.length > MAX_MESSAGE_LENGTH) {
    throw new AppError('validation_failed', `${what} is limited to ${MAX_MESSAGE_LENGTH} characters`);
  }
  return text;
}

export class DiscussionService {
  constructor(private readonly ctx: AppContext) {}

  async listMessages(
    session: AuthenticatedSession,
    scanId: string,
    page: { after?: string | undefined; limit: number },
  ): Promise<CaseMessage[]> {
    return withScope(this.ctx.db, scopeOf(session), async (tx) => {
      await openCase(tx, session, scanId, 'discussion.read');
      // Oldest first, as a conversation reads; `after` (a message id) continues from there.
      const { rows } = await tx.query<MessageRow>(
        `${MESSAGE_SELECT}
          WHERE m.scan_id = $1
            AND ($2::uuid IS NULL OR (m.created_at, m.id) > (SELECT created_at, id FROM case_messages WHERE id = $2))
          ORDER BY m.created_at, m.id LIMIT $3`,
        [scanId, page.after ?? null, page.limit],
      );
      return rows.map((row) => toMessage(row, this.ctx.cipher));
    });
  }

  async postMessage(session: AuthenticatedSession, scanId: string, text: string): Promise<CaseMessage> {
    const body = clinicalText(text, 'The message', true)!;
    return withScope(this.ctx.db, scopeOf(session), async (tx) => {
      await openCase(tx, session, scanId, 'discussion.post');
      return this.insertMessage(tx, session, scanId, body, null);
    });
  }

  private async insertMessage(
    tx: Queryable,
    session: AuthenticatedSession,
    scanId: string,
    body: string,
    secondOpinionId: string | null,
  ): Promise<CaseMessage> {
    const { actor } = session;
    const { rows } = await tx.query<{ id: string }>(
      `INSERT INTO case_messages (org_id, scan_id, author_user_id, author_role, body_enc, second_opinion_id)
       VALUES ($1, $2, $3, $4, $5, $6) RETURNING id`,
      [actor.orgId, scanId, actor.userId, actor.role, this.ctx.cipher.encrypt(body), secondOpinionId],
    );
    return (await findMessage(tx, this.ctx.cipher, rows[0]!.id))!;
  }

  async requestSecondOpinion(
    session: AuthenticatedSession,
    scanId: string,
    input: { doctorId: string; note?: string | undefined },
  ): Promise<SecondOpinion> {
    const note = clinicalText(input.note, 'The note', false);
    const { actor } = session;
    if (input.doctorId === actor.userId) {
      throw new AppError('validation_failed', 'Ask another doctor: you cannot request a second opinion from yourself');
    }
    return withScope(this.ctx.db, scopeOf(session), async (tx) => {
      await openCase(tx, session, scanId, 'second_opinion.request');
      // Row-level security already limits this to the organisation.
      const target = await tx.query<{ role: string; status: string; verified: boolean }>(
        `SELECT role, status, clinician_verified_at IS NOT NULL AS verified FROM users WHERE id = $1`,
        [input.doctorId],
      );
      const doctor = target.rows[0];
      if (!doctor || doctor.role !== 'doctor') {
        throw new AppError('validation_failed', 'doctorId must name a doctor of your organisation');
      }
      if (!doctor.verified || doctor.status !== 'active') {
        throw new AppError(
          'validation_failed',
          'That doctor cannot take requests yet: their licence is not verified or their account is disabled',
        );
      }
      const open = await tx.query(
        `SELECT 1 FROM second_opinions WHERE scan_id = $1 AND requested_of = $2 AND status = 'requested'`,
        [scanId, input.doctorId],
      );
      if (open.rows.length > 0) throw conflict('This doctor already has an open request for this case');
      const { rows } = await tx.query<{ id: string }>(
        `INSERT INTO second_opinions (org_id, scan_id, requested_by, requested_of, note_enc)
         VALUES ($1, $2, $3, $4, $5) RETURNING id`,
        [actor.orgId, scanId, actor.userId, input.doctorId, note ? this.ctx.cipher.encrypt(note) : null],
      );
      return (await findSecondOpinion(tx, this.ctx.cipher, rows[0]!.id))!;
    });
  }

  /** The requests of one case (everyone in its discussion sees them). */
  async listForCase(session: AuthenticatedSession, scanId: string): Promise<SecondOpinion[]> {
    return withScope(this.ctx.db, scopeOf(session), async (tx) => {
      await openCase(tx, session, scanId, 'discussion.read');
      const { rows } = await tx.query<SecondOpinionRow>(
        `${OPINION_SELECT} WHERE o.scan_id = $1 ORDER BY o.created_at`,
        [scanId],
      );
      return rows.map((row) => toSecondOpinion(row, this.ctx.cipher));
    });
  }

  /** The requests addressed to the caller (their worklist), open ones first, oldest first. */
  async listAssigned(
    session: AuthenticatedSession,
    filter: { status?: SecondOpinionStatus | undefined; limit: number },
  ): Promise<SecondOpinion[]> {
    const { actor } = session;
    enforce(decide(actor, 'second_opinion.list_assigned', { kind: 'organisation', orgId: actor.orgId }), 'Requests');
    return withScope(this.ctx.db, scopeOf(session), async (tx) => {
      const { rows } = await tx.query<SecondOpinionRow>(
        `${OPINION_SELECT} WHERE o.requested_of = $1 AND ($2::text IS NULL OR o.status = $2)
          ORDER BY (o.status = 'requested') DESC, s.priority_rank, o.created_at LIMIT $3`,
        [actor.userId, filter.status ?? null, filter.limit],
      );
      return rows.map((row) => toSecondOpinion(row, this.ctx.cipher));
    });
  }

  /** The verified, active doctors of the organisation a second opinion can be asked of (not the caller). */
  async listDoctors(session: AuthenticatedSession): Promise<Person[]> {
    const { actor } = session;
    enforce(decide(actor, 'second_opinion.list_doctors', { kind: 'organisation', orgId: actor.orgId }), 'Doctors');
    const { rows } = await withScope(this.ctx.db, scopeOf(session), (tx) =>
      tx.query<{ id: string; name_enc: Uint8Array }>(
        `SELECT id, name_enc FROM users
          WHERE role = 'doctor' AND status = 'active' AND clinician_verified_at IS NOT NULL AND id <> $1`,
        [actor.userId],
      ),
    );
    return rows
      .map((row) => ({ id: row.id, name: this.ctx.cipher.decryptCached(row.name_enc), role: 'doctor' }))
      .sort((a, b) => a.name.localeCompare(b.name));
  }

  /**
   * The requested doctor answers (the answer is also posted to the case's chat, where the others
   * read it) or declines (with an optional reason). Only an open request can be responded to.
   */
  async respond(
    session: AuthenticatedSession,
    requestId: string,
    input: { decision: 'answer' | 'decline'; text?: string | undefined },
  ): Promise<SecondOpinion> {
    const text = clinicalText(
      input.text,
      input.decision === 'answer' ? 'The answer' : 'The reason',
      input.decision === 'answer',
    );
    return withScope(this.ctx.db, scopeOf(session), async (tx) => {
      const request = await findSecondOpinion(tx, this.ctx.cipher, requestId);
      if (!request) throw notFound('Second-opinion request');
      enforce(
        decide(session.actor, 'second_opinion.respond', {
          kind: 'second_opinion',
          orgId: session.actor.orgId,
          requestedOfUserId: request.requestedOf.id,
        }),
        'Second-opinion request',
      );
      await openCase(tx, session, request.scanId, 'discussion.post');
      if (request.status !== 'requested') throw conflict(`This request was already ${request.status}`);
      const updated = await tx.query(
        `UPDATE second_opinions SET status = $2, response_enc = $3, responded_at = now()
          WHERE id = $1 AND status = 'requested'`,
        [requestId, input.decision === 'answer' ? 'answered' : 'declined', text ? this.ctx.cipher.encrypt(text) : null],
      );
      if (updated.rowCount !== 1) throw conflict('Someone responded to this request at the same time; reload it');
      if (input.decision === 'answer') await this.insertMessage(tx, session, request.scanId, text!, requestId);
      return (await findSecondOpinion(tx, this.ctx.cipher, requestId))!;
    });
  }
}
