/**
 * SQL for reports and their deliveries, in a transaction the caller has scoped (db/scope.ts).
 * Reports are inserted once and never changed; a delivery changes only its progress.
 */
import type { Queryable } from '../db/database.ts';
import type { PageSize } from '../reports/model.ts';

export interface ReportRow {
  id: string;
  org_id: string;
  scan_id: string;
  patient_user_id: string | null;
  version: number;
  pdf_sha256: string;
  pdf_bytes: number;
  verification_code: string;
  issued_at: Date;
  generated_at: Date;
  page_size: PageSize;
  renderer: string;
  model_enc: Uint8Array;
  image_sha256: string | null;
  heatmap_sha256: string | null;
}

const REPORT_COLUMNS = `id, org_id, scan_id, patient_user_id, version, pdf_sha256, pdf_bytes, verification_code, issued_at,
  generated_at, page_size, renderer, model_enc, image_sha256, heatmap_sha256`;

/** The newest version of a scan's report. */
export async function latestReport(tx: Queryable, scanId: string): Promise<ReportRow | null> {
  const { rows } = await tx.query<ReportRow>(
    `SELECT ${REPORT_COLUMNS} FROM reports WHERE scan_id = $1 ORDER BY version DESC LIMIT 1`,
    [scanId],
  );
  return rows[0] ?? null;
}

export async function findReport(tx: Queryable, id: string): Promise<ReportRow | null> {
  const { rows } = await tx.query<ReportRow>(`SELECT ${REPORT_COLUMNS} FROM reports WHERE id = $1`, [id]);
  return rows[0] ?? null;
}

export type NewReport = Omit<ReportRow, 'generated_at'>;

export async function insertReport(tx: Queryable, r: NewReport): Promise<void> {
  await tx.query(
    `INSERT INTO reports (id, org_id, scan_id, patient_user_id, version, pdf_sha256, pdf_bytes, verification_code,
                          issued_at, page_size, renderer, model_enc, image_sha256, heatmap_sha256)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`,
    [
      r.id,
      r.org_id,
      r.scan_id,
      r.patient_user_id,
      r.version,
      r.pdf_sha256,
      r.pdf_bytes,
      r.verification_code,
      r.issued_at,
      r.page_size,
      r.renderer,
      r.model_enc,
      r.image_sha256,
      r.heatmap_sha256,
    ],
  );
}

/** What the public verification answers: no patient data, only the report's identity. */
export interface IssuedReport {
  id: string;
  org_id: string;
  organisation: string;
  version: number;
  pdf_sha256: string;
  verification_code: string;
  issued_at: Date;
}

/** Looks a report up across organisations (for the public verifier: run with withSystem). */
export async function findIssuedReport(
  tx: Queryable,
  by: { code: string } | { sha256: string },
): Promise<IssuedReport | null> {
  const [column, value] = 'code' in by ? ['r.verification_code', by.code] : ['r.pdf_sha256', by.sha256];
  const { rows } = await tx.query<IssuedReport>(
    `SELECT r.id, r.org_id, o.name AS organisation, r.version, r.pdf_sha256, r.verification_code, r.issued_at
       FROM reports r JOIN organisations o ON o.id = r.org_id
      WHERE ${column} = $1 ORDER BY r.issued_at LIMIT 1`,
    [value],
  );
  return rows[0] ?? null;
}

export type DeliveryStatus = 'queued' | 'sent' | 'failed';

export interface DeliveryRow {
  id: string;
  org_id: string;
  report_id: string;
  scan_id: string;
  patient_user_id: string | null;
  channel: 'email' | 'outbox';
  recipient_enc: Uint8Array;
  status: DeliveryStatus;
  reason: string | null;
  attempts: number;
  message_id: string | null;
  outbox_id: string | null;
  queued_at: Date;
  last_attempt_at: Date | null;
  sent_at: Date | null;
}

const DELIVERY_COLUMNS = `id, org_id, report_id, scan_id, patient_user_id, channel, recipient_enc, status, reason, attempts,
  message_id, outbox_id, queued_at, last_attempt_at, sent_at`;

export async function insertDelivery(
  tx: Queryable,
  d: {
    orgId: string;
    reportId: string;
    scanId: string;
    patientUserId: string | null;
    channel: 'email' | 'outbox';
    recipientLookup: Buffer;
    recipientEnc: Buffer;
  },
): Promise<string> {
  const { rows } = await tx.query<{ id: string }>(
    `INSERT INTO deliveries (org_id, report_id, scan_id, patient_user_id, channel, recipient_lookup, recipient_enc)
     VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id`,
    [d.orgId, d.reportId, d.scanId, d.patientUserId, d.channel, d.recipientLookup, d.recipientEnc],
  );
  return rows[0]!.id;
}

export async function findDelivery(tx: Queryable, id: string): Promise<DeliveryRow | null> {
  const { rows } = await tx.query<DeliveryRow>(`SELECT ${DELIVERY_COLUMNS} FROM deliveries WHERE id = $1`, [id]);
  return rows[0] ?? null;
}

export async function listDeliveries(tx: Queryable, scanId: string): Promise<DeliveryRow[]> {
  const { rows } = await tx.query<DeliveryRow>(
    `SELECT ${DELIVERY_COLUMNS} FROM deliveries WHERE scan_id = $1 ORDER BY queued_at, id`,
    [scanId],
  );
  return rows;
}

/** Records one attempt's outcome. */
export async function recordAttempt(
  tx: Queryable,
  id: string,
  outcome: { status: DeliveryStatus; reason: string | null; messageId?: string | null; outboxId?: string | null },
): Promise<void> {
  await tx.query(
    `UPDATE deliveries SET status = $2, reason = $3, attempts = attempts + 1, last_attempt_at = now(),
            message_id = COALESCE($4, message_id), outbox_id = COALESCE($5, outbox_id),
            sent_at = CASE WHEN $2 = 'sent' THEN now() ELSE sent_at END, updated_at = now()
      WHERE id = $1`,
    [id, outcome.status, outcome.reason, outcome.messageId ?? null, outcome.outboxId ?? null],
  );
}
