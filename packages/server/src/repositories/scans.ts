/**
 * SQL for scans, their patients and their timeline. Every function takes a transaction that the
 * caller has already scoped (see db/scope.ts), so row-level security applies to all of it.
 */
import type { Priority, ScanStatus } from '@scanflow/domain';
import type { Queryable } from '../db/database.ts';
import type { FieldCipher } from '../storage/field-cipher.ts';
import type { AnalysisLabel } from './analyses.ts';

export interface AiResult {
  model: { name: string; version: string };
  labels: AnalysisLabel[];
  /** Null reads "No finding": no label reached its threshold (rule in @scanflow/inference postprocess). */
  topFinding: { id: string; display: string; probability: number } | null;
  /** The top finding's probability, or for "No finding" 1 − the highest probability (absent in
   * results recorded before the rule existed). */
  confidence?: number;
  /** The confidence is below the model's uncertain threshold: a doctor must decide. */
  uncertain: boolean;
  priorityScore: number;
  priority: Priority;
  /** Always shown with the result: the AI supports, it does not diagnose. */
  disclaimer: string;
  /**
   * The heatmap GET /scans/{id}/heatmap serves, for this label; `sha256`, its stored colour overlay,
   * only in results recorded before the pictures were drawn on request (from the analysis's grid).
   */
  heatmap?: { label: string; sha256?: string } | null;
  /** Which run of `analyses` this is (set by recordAiResult). */
  analysisVersion?: number;
}

/** What every view of a scan needs: the worklist reads only these columns. */
export interface ScanSummaryRow {
  id: string;
  org_id: string;
  patient_id: string;
  patient_user_id: string | null;
  source: 'upload' | 'dicom' | 'dicomweb';
  status: ScanStatus;
  version: number;
  priority: Priority | null;
  priority_score: number | null;
  blob_sha256: string;
  byte_size: number;
  media_type: string;
  format: string;
  width: number;
  height: number;
  frames: number;
  modality: string | null;
  body_part: string | null;
  /** The AI result without its per-label list: what a worklist row shows. */
  ai_summary: AiSummary | null;
  integrity: 'ok' | 'mismatch';
  /** Since when the scan waits in the integrity second-opinion queue (its bytes failed their hash). */
  second_opinion_since: string | null;
  /** Timestamps as ISO 8601 text at PostgreSQL's full (microsecond) precision: exact cursor keys,
   * and no Date parsing on the hot path. */
  received_at: string;
  status_since: string;
  patient_name_enc: Uint8Array | null;
}

/** A case in full. */
/** A worklist shows the headline of the pre-read; the case view shows every label. */
export type AiSummary = Omit<AiResult, 'labels'>;

export interface ScanRow extends ScanSummaryRow {
  ai_result: AiResult | null;
  heatmap_sha256: string | null;
  uploaded_by: string | null;
  original_name_enc: Uint8Array | null;
  dicom: Record<string, string> | null;
  findings_enc: Uint8Array | null;
  prescription_enc: Uint8Array | null;
}

// JavaScript dates hold milliseconds, PostgreSQL microseconds: a cursor built from a Date would
// repeat rows on the next page, so timestamps are read as PostgreSQL's own text.
const exactUtc = (column: string) => `to_char(${column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;

const SUMMARY_COLUMNS = `s.id, s.org_id, s.patient_id, s.patient_user_id, s.source, s.status, s.version, s.priority,
  s.priority_score, s.blob_sha256, s.byte_size, s.media_type, s.format, s.width, s.height, s.frames,
  s.dicom->>'modality' AS modality, s.dicom->>'bodyPartExamined' AS body_part, s.ai_result - 'labels' AS ai_summary, s.integrity,
  ${exactUtc('s.second_opinion_since')} AS second_opinion_since,
  ${exactUtc('s.received_at')} AS received_at, ${exactUtc('s.status_since')} AS status_since`;

const SCAN_COLUMNS = `${SUMMARY_COLUMNS}, s.ai_result, s.heatmap_sha256, s.uploaded_by, s.original_name_enc, s.dicom, s.findings_enc,
  s.prescription_enc, p.name_enc AS patient_name_enc`;

/** The integrity second-opinion queue (SPEC L3): flagged scans, longest waiting first. */
export async function listIntegrityReview(tx: Queryable, limit: number): Promise<ScanSummaryRow[]> {
  const { rows } = await tx.query<ScanSummaryRow>(
    `SELECT ${SUMMARY_COLUMNS}, p.name_enc AS patient_name_enc
       FROM scans s JOIN patients p ON p.id = s.patient_id
      WHERE s.second_opinion_since IS NOT NULL
      ORDER BY s.second_opinion_since, s.id LIMIT $1`,
    [limit],
  );
  return rows;
}

export async function findScan(tx: Queryable, id: string): Promise<ScanRow | null> {
  const { rows } = await tx.query<ScanRow>(
    `SELECT ${SCAN_COLUMNS} FROM scans s JOIN patients p ON p.id = s.patient_id WHERE s.id = $1`,
    [id],
  );
  return rows[0] ?? null;
}

/** What the AI pre-read needs of a scan: where its bytes are, and its state for the version check. */
export type ScanState = Pick<ScanRow, 'id' | 'org_id' | 'status' | 'version' | 'blob_sha256'>;

/**
 * Several scans' state at once (those visible in this scope); any order, missing ones left out.
 * Only these columns: the full row carries encrypted fields that cost more to read than the
 * whole batch's writes on PGlite.
 */
export async function findScanStates(tx: Queryable, ids: readonly string[]): Promise<ScanState[]> {
  const { rows } = await tx.query<ScanState>(
    `SELECT id, org_id, status, version, blob_sha256 FROM scans WHERE id = ANY($1::uuid[])`,
    [ids],
  );
  return rows;
}

export interface NewScan {
  orgId: string;
  patientId: string;
  patientUserId: string | null;
  uploadedBy: string | null;
  source: 'upload' | 'dicom' | 'dicomweb';
  sha256: string;
  byteSize: number;
  mediaType: string;
  format: string;
  width: number;
  height: number;
  frames: number;
  originalNameEnc: Buffer | null;
  dicom: Record<string, string> | null;
  sopInstanceUid: string | null;
}

export async function insertScan(tx: Queryable, scan: NewScan): Promise<{ id: string; received_at: Date }> {
  const { rows } = await tx.query<{ id: string; received_at: Date }>(
    `INSERT INTO scans (org_id, patient_id, patient_user_id, uploaded_by, source, blob_sha256, byte_size, media_type,
                        format, width, height, frames, original_name_enc, dicom, sop_instance_uid)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) RETURNING id, received_at`,
    [
      scan.orgId,
      scan.patientId,
      scan.patientUserId,
      scan.uploadedBy,
      scan.source,
      scan.sha256,
      scan.byteSize,
      scan.mediaType,
      scan.format,
      scan.width,
      scan.height,
      scan.frames,
      scan.originalNameEnc,
      scan.dicom,
      scan.sopInstanceUid,
    ],
  );
  return rows[0]!;
}

export interface NewScanEvent {
  orgId: string;
  scanId: string;
  action: string;
  from: ScanStatus | null;
  to: ScanStatus;
  actorUserId: string | null;
  actorRole: string;
  notesEnc: Buffer | null;
}

export async function insertScanEvent(tx: Queryable, event: NewScanEvent): Promise<void> {
  await tx.query(
    `INSERT INTO scan_events (org_id, scan_id, action, from_status, to_status, actor_user_id, actor_role, notes_enc)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
    [event.orgId, event.scanId, event.action, event.from, event.to, event.actorUserId, event.actorRole, event.notesEnc],
  );
}

/** Several timeline entries in one statement (one array per column). */
export async function insertScanEvents(tx: Queryable, events: readonly NewScanEvent[]): Promise<void> {
  if (events.length === 0) return;
  const column = <T>(f: (e: NewScanEvent) => T) => events.map(f);
  await tx.query(
    `INSERT INTO scan_events (org_id, scan_id, action, from_status, to_status, actor_user_id, actor_role, notes_enc)
     SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::text[], $6::uuid[], $7::text[], $8::bytea[])`,
    [
      column((e) => e.orgId),
      column((e) => e.scanId),
      column((e) => e.action),
      column((e) => e.from),
      column((e) => e.to),
      column((e) => e.actorUserId),
      column((e) => e.actorRole),
      column((e) => e.notesEnc),
    ],
  );
}

export interface TimelineEntry {
  action: string;
  from: ScanStatus | null;
  to: ScanStatus;
  actorUserId: string | null;
  actorRole: string | null;
  notes: string | null;
  at: string;
}

export async function scanTimeline(tx: Queryable, cipher: FieldCipher, scanId: string): Promise<TimelineEntry[]> {
  const { rows } = await tx.query<{
    action: string;
    from_status: ScanStatus | null;
    to_status: ScanStatus;
    actor_user_id: string | null;
    actor_role: string | null;
    notes_enc: Uint8Array | null;
    at: Date;
  }>(
    `SELECT action, from_status, to_status, actor_user_id, actor_role, notes_enc, at
       FROM scan_events WHERE scan_id = $1 ORDER BY at, id`,
    [scanId],
  );
  return rows.map((r) => ({
    action: r.action,
    from: r.from_status,
    to: r.to_status,
    actorUserId: r.actor_user_id,
    actorRole: r.actor_role,
    notes: cipher.maybeDecrypt(r.notes_enc),
    at: r.at.toISOString(),
  }));
}

export interface WorklistQuery {
  /** Stated explicitly although row-level security enforces it too: it lets the planner use the
   * worklist index instead of guessing at the policy's selectivity. */
  orgId: string;
  /** For patients: only their own scans (again both here and in the policy). */
  patientUserId?: string | undefined;
  statuses: readonly ScanStatus[];
  /** Patients read their own scans newest first; clinicians read queues by priority and waiting time. */
  order: 'queue' | 'newest';
  from?: Date | undefined;
  to?: Date | undefined;
  priority?: Priority | undefined;
  after?: WorklistCursor | undefined;
  /** Queue order: ROUTINE cases waiting since before this join the HIGH group (the maximum-wait
   * ceiling, domain `queueRank`); fixed for a paging session so that pages agree. */
  cutoff: string;
  limit: number;
}

/** The sort key of the last row of a page: the next page starts strictly after it. */
export interface WorklistCursor {
  /** The queue group (0: HIGH or past the ceiling, 1: the rest). */
  rank: number;
  at: string;
  id: string;
  /** The ceiling's cutoff the first page used (queue order). */
  cutoff?: string;
}

/** A worklist row with the queue group it sorted in. */
export interface QueueRow extends ScanSummaryRow {
  queue_rank: number;
}

export async function listScans(tx: Queryable, q: WorklistQuery): Promise<QueueRow[]> {
  const values: unknown[] = [];
  const param = (value: unknown) => {
    values.push(value);
    return `$${values.length}`;
  };
  const where = [`s.org_id = ${param(q.orgId)}`];
  // One status is an equality, so a queue is read straight off the index in order.
  where.push(
    q.statuses.length === 1 ? `s.status = ${param(q.statuses[0])}` : `s.status = ANY(${param(q.statuses)}::text[])`,
  );
  if (q.patientUserId) where.push(`s.patient_user_id = ${param(q.patientUserId)}`);
  if (q.from) where.push(`s.received_at >= ${param(q.from)}`);
  if (q.to) where.push(`s.received_at < ${param(q.to)}`);
  if (q.priority) where.push(`s.priority_rank = ${param(q.priority === 'HIGH' ? 0 : 1)}`);
  const limit = param(q.limit);
  // The patient's name by primary key per row of the page, after the page is chosen.
  const patientName = (alias: string) =>
    `(SELECT p.name_enc FROM patients p WHERE p.id = ${alias}.patient_id) AS patient_name_enc`;

  if (q.order === 'newest') {
    if (q.after) where.push(`(s.received_at, s.id) < (${param(q.after.at)}::timestamptz, ${param(q.after.id)}::uuid)`);
    const { rows } = await tx.query<QueueRow>(
      `SELECT ${SUMMARY_COLUMNS}, 0 AS queue_rank, ${patientName('s')}
         FROM scans s WHERE ${where.join(' AND ')} ORDER BY s.received_at DESC, s.id DESC LIMIT ${limit}`,
      values,
    );
    return rows;
  }

  // Queue order (domain compareWorklist): group 0 = HIGH, plus ROUTINE waiting since before the
  // cutoff; group 1 = the other ROUTINE cases; each by waiting time, then id. Each of the three
  // parts is a range of the worklist index (org, status, priority_rank, status_since, id) read in
  // order and cut at the page size, so a page costs three short index scans however long the
  // queue; the outer sort orders at most three pages' rows.
  const cutoff = param(q.cutoff); // the group-1 part below always uses it
  const after = q.after;
  const keyset = (rank: 0 | 1): string | null => {
    if (!after) return 'true';
    if (rank < after.rank) return null; // the cursor is past this whole group
    if (rank > after.rank) return 'true';
    return `(s.status_since, s.id) > (${param(after.at)}::timestamptz, ${param(after.id)}::uuid)`;
  };
  const parts: string[] = [];
  const part = (rank: 0 | 1, condition: string) => {
    const range = keyset(rank);
    if (range === null) return;
    parts.push(
      `(SELECT ${SUMMARY_COLUMNS}, ${rank} AS queue_rank, s.status_since AS sort_at
          FROM scans s WHERE ${where.join(' AND ')} AND ${condition} AND ${range}
         ORDER BY s.status_since, s.id LIMIT ${limit})`,
    );
  };
  part(0, 's.priority_rank = 0');
  part(0, `s.priority_rank = 1 AND s.status_since < ${cutoff}::timestamptz`);
  part(1, `s.priority_rank = 1 AND s.status_since >= ${cutoff}::timestamptz`);
  if (parts.length === 0) return [];
  const { rows } = await tx.query<QueueRow>(
    `SELECT page.*, ${patientName('page')}
       FROM (${parts.join(' UNION ALL ')}) page
      ORDER BY page.queue_rank, page.sort_at, page.id LIMIT ${limit}`,
    values,
  );
  return rows;
}

export interface StatusCount {
  status: ScanStatus;
  total: number;
  high: number;
  oldestWaitingSince: string | null;
}

export async function countScans(tx: Queryable): Promise<StatusCount[]> {
  const { rows } = await tx.query<{ status: ScanStatus; total: number; high: number; oldest: Date | null }>(
    `SELECT status, count(*)::int AS total, count(*) FILTER (WHERE priority_rank = 0)::int AS high,
            min(status_since) AS oldest
       FROM scans GROUP BY status`,
  );
  return rows.map((r) => ({
    status: r.status,
    total: Number(r.total),
    high: Number(r.high),
    oldestWaitingSince: r.oldest ? r.oldest.toISOString() : null,
  }));
}
