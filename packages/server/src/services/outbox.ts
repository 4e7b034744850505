/**
 * Outgoing mail. Every message is written to the outbox table first (recipient and body
 * encrypted); with no SMTP server configured the outbox is where it stays, readable by the
 * organisation's admins. Subjects are plain text, so they never carry clinical or personal data.
 */
import type { Queryable } from '../db/database.ts';
import type { FieldCipher } from '../storage/field-cipher.ts';

export interface OutgoingMail {
  orgId: string;
  kind: string;
  to: string;
  subject: string;
  body: string;
}

export async function enqueueMail(tx: Queryable, cipher: FieldCipher, mail: OutgoingMail): Promise<string> {
  const { rows } = await tx.query<{ id: string }>(
    `INSERT INTO outbox (org_id, kind, to_enc, subject, body_enc) VALUES ($1, $2, $3, $4, $5) RETURNING id`,
    [mail.orgId, mail.kind, cipher.encrypt(mail.to), mail.subject, cipher.encrypt(mail.body)],
  );
  return rows[0]!.id;
}

export interface OutboxMessage {
  id: string;
  kind: string;
  to: string;
  subject: string;
  body: string;
  status: string;
  createdAt: string;
}

export async function listOutbox(tx: Queryable, cipher: FieldCipher, limit: number): Promise<OutboxMessage[]> {
  const { rows } = await tx.query<{
    id: string;
    kind: string;
    to_enc: Uint8Array;
    subject: string;
    body_enc: Uint8Array;
    status: string;
    created_at: Date;
  }>('SELECT id, kind, to_enc, subject, body_enc, status, created_at FROM outbox ORDER BY created_at DESC LIMIT $1', [
    limit,
  ]);
  return rows.map((r) => ({
    id: r.id,
    kind: r.kind,
    to: cipher.decrypt(r.to_enc),
    subject: r.subject,
    body: cipher.decrypt(r.body_enc),
    status: r.status,
    createdAt: r.created_at.toISOString(),
  }));
}
