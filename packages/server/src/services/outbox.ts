/**
 * Outgoing mail. Every message is written to the outbox table first (recipient and body
 * encrypted), with an `outbox_send` job in the same transaction that hands it to the SMTP server
 * (SMTP_URL); with no SMTP server configured the outbox is where it stays, readable by the
 * organisation's admins. Subjects are plain text, so they never carry clinical or personal data.
 */
import type { Queryable } from '../db/database.ts';
import { enqueueJob } from '../jobs/queue.ts';
import type { FieldCipher } from '../storage/field-cipher.ts';

/** The job that sends an outbox message over SMTP when a server is configured. */
export const OUTBOX_SEND_JOB = 'outbox_send';

export interface OutgoingMail {
  orgId: string;
  kind: string;
  to: string;
  subject: string;
  body: string;
  /** A file sent with the message, stored as an encrypted blob (a report's protected PDF). */
  attachment?: { sha256: string; name: string; type: string };
}

export async function enqueueMail(tx: Queryable, cipher: FieldCipher, mail: OutgoingMail): Promise<string> {
  const { rows } = await tx.query<{ id: string }>(
    `INSERT INTO outbox (org_id, kind, to_enc, subject, body_enc, attachment_sha256, attachment_name, attachment_type)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id`,
    [
      mail.orgId,
      mail.kind,
      cipher.encrypt(mail.to),
      mail.subject,
      cipher.encrypt(mail.body),
      mail.attachment?.sha256 ?? null,
      mail.attachment?.name ?? null,
      mail.attachment?.type ?? null,
    ],
  );
  const id = rows[0]!.id;
  await enqueueJob(tx, { orgId: mail.orgId, kind: OUTBOX_SEND_JOB, payload: { outboxId: id } });
  return id;
}

export interface OutboxMessage {
  id: string;
  kind: string;
  to: string;
  subject: string;
  body: string;
  status: string;
  createdAt: string;
  /** Download it from GET /api/v1/admin/outbox/{id}/attachment. */
  attachment: { name: string; type: string } | null;
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
    attachment_name: string | null;
    attachment_type: string | null;
  }>(
    `SELECT id, kind, to_enc, subject, body_enc, status, created_at, attachment_name, attachment_type
       FROM outbox ORDER BY created_at DESC LIMIT $1`,
    [limit],
  );
  return rows.map((r) => ({
    id: r.id,
    kind: r.kind,
    to: cipher.decrypt(r.to_enc),
    subject: r.subject,
    body: cipher.decrypt(r.body_enc),
    status: r.status,
    createdAt: r.created_at.toISOString(),
    attachment: r.attachment_name && r.attachment_type ? { name: r.attachment_name, type: r.attachment_type } : null,
  }));
}

/** An outbox message's attachment, if it has one. */
export async function findOutboxAttachment(
  tx: Queryable,
  id: string,
): Promise<{ sha256: string; name: string; type: string } | null> {
  const { rows } = await tx.query<{ sha256: string; name: string; type: string }>(
    `SELECT attachment_sha256 AS sha256, attachment_name AS name, attachment_type AS type
       FROM outbox WHERE id = $1 AND attachment_sha256 IS NOT NULL`,
    [id],
  );
  return rows[0] ?? null;
}

/** One message as the sender needs it, with its attachment's blob address. */
export async function findOutboxMessage(
  tx: Queryable,
  cipher: FieldCipher,
  id: string,
): Promise<(OutgoingMail & { status: string; attachmentSha256: string | null }) | null> {
  const { rows } = await tx.query<{
    org_id: string;
    kind: string;
    to_enc: Uint8Array;
    subject: string;
    body_enc: Uint8Array;
    status: string;
    attachment_sha256: string | null;
    attachment_name: string | null;
    attachment_type: string | null;
  }>(
    `SELECT org_id, kind, to_enc, subject, body_enc, status, attachment_sha256, attachment_name, attachment_type
       FROM outbox WHERE id = $1`,
    [id],
  );
  const r = rows[0];
  if (!r) return null;
  return {
    orgId: r.org_id,
    kind: r.kind,
    to: cipher.decrypt(r.to_enc),
    subject: r.subject,
    body: cipher.decrypt(r.body_enc),
    status: r.status,
    attachmentSha256: r.attachment_sha256,
    ...(r.attachment_sha256 && r.attachment_name && r.attachment_type
      ? { attachment: { sha256: r.attachment_sha256, name: r.attachment_name, type: r.attachment_type } }
      : {}),
  };
}

export async function setOutboxStatus(tx: Queryable, id: string, status: 'sent' | 'failed'): Promise<void> {
  await tx.query('UPDATE outbox SET status = $2 WHERE id = $1', [id, status]);
}
