/**
 * Scans: upload (SPEC I1, I5), worklists (W2), reading a case and its image, and the lifecycle
 * transitions (W1). Each operation runs in one scoped transaction and asks the policy module
 * before it acts; the HTTP layer only translates.
 */
import {
  AppError,
  decide,
  maxWaitCutoff,
  notFound,
  planTransition,
  queueStatuses,
  type Actor,
  type Decision,
  type Priority,
  type Resource,
  type ScanStatus,
  type TransitionInput,
} from '@scanflow/domain';
import type { AppContext } from '../context.ts';
import type { Queryable, Transaction } from '../db/database.ts';
import { withScope } from '../db/scope.ts';
import { enforce, scopeOf } from './access.ts';
import { IntegrityError } from '../storage/blob-store.ts';
import type { FieldCipher } from '../storage/field-cipher.ts';
import { AuditLog } from '../audit/audit-log.ts';
import type { AuthenticatedSession } from './auth-service.ts';
import {
  countScans,
  findScan,
  findScanStates,
  insertScanEvent,
  insertScanEvents,
  listIntegrityReview,
  listScans,
  scanTimeline,
  type AiResult,
  type AiSummary,
  type ScanRow,
  type ScanSummaryRow,
  type StatusCount,
  type TimelineEntry,
  type WorklistCursor,
} from '../repositories/scans.ts';
import { enqueueJob } from '../jobs/queue.ts';
import { REPORT_GENERATE_JOB } from './report-issuer.ts';
import { insertAnalyses, type AnalysisTimings } from '../repositories/analyses.ts';
import { heatmapGridJson } from './heatmap-pictures.ts';
import type { Heatmap } from '@scanflow/inference';
import { LruCache } from './lru-cache.ts';
import { AI_PREREAD_JOB, ingestInstances, type PatientChoice, type UploadedFile } from './ingest.ts';

export { AI_PREREAD_JOB, displayName, imagingErrorCode, type UploadedFile } from './ingest.ts';

export interface ScanSummary {
  id: string;
  status: ScanStatus;
  version: number;
  priority: Priority | null;
  priorityScore: number | null;
  patient: { id: string; name: string | null };
  source: string;
  format: string;
  mediaType: string;
  width: number;
  height: number;
  frames: number;
  byteSize: number;
  sha256: string;
  integrity: 'ok' | 'mismatch';
  /** Set when the bytes failed their hash check: the scan waits for a second look (SPEC L3). */
  secondOpinionSince: string | null;
  modality: string | null;
  bodyPart: string | null;
  receivedAt: string;
  statusSince: string;
  /** The pre-read's headline (top finding, uncertainty, priority, model); the case adds every label. */
  ai: AiSummary | null;
}

export interface ScanDetail extends Omit<ScanSummary, 'ai'> {
  ai: AiResult | null;
  originalName: string | null;
  dicom: Record<string, string> | null;
  findings: { findings: string; impression: string | null } | null;
  prescription: unknown;
  timeline: TimelineEntry[];
}

export interface WorklistPage {
  items: ScanSummary[];
  nextCursor: string | null;
}

export interface WorklistRequest {
  statuses?: ScanStatus[] | undefined;
  from?: Date | undefined;
  to?: Date | undefined;
  priority?: Priority | undefined;
  cursor?: string | undefined;
  limit: number;
}

const deny = (decision: Decision): void => enforce(decision, 'Scan');

const scanResource = (row: ScanRow): Resource => ({
  kind: 'scan',
  orgId: row.org_id,
  patientUserId: row.patient_user_id,
  status: row.status,
});

function toSummary(row: ScanSummaryRow, cipher: FieldCipher): ScanSummary {
  return {
    id: row.id,
    status: row.status,
    version: row.version,
    priority: row.priority,
    priorityScore: row.priority_score,
    patient: { id: row.patient_id, name: row.patient_name_enc ? cipher.decryptCached(row.patient_name_enc) : null },
    source: row.source,
    format: row.format,
    mediaType: row.media_type,
    width: row.width,
    height: row.height,
    frames: row.frames,
    byteSize: Number(row.byte_size),
    sha256: row.blob_sha256,
    integrity: row.integrity,
    secondOpinionSince: row.second_opinion_since,
    modality: row.modality,
    bodyPart: row.body_part,
    receivedAt: row.received_at,
    statusSince: row.status_since,
    ai: row.ai_summary,
  };
}

async function toDetail(tx: Queryable, row: ScanRow, cipher: FieldCipher): Promise<ScanDetail> {
  return {
    ...toSummary(row, cipher),
    ai: row.ai_result,
    originalName: cipher.maybeDecrypt(row.original_name_enc),
    dicom: row.dicom,
    findings: row.findings_enc ? cipher.decryptJson(row.findings_enc) : null,
    prescription: row.prescription_enc ? cipher.decryptJson(row.prescription_enc) : null,
    timeline: await scanTimeline(tx, cipher, row.id),
  };
}

export function encodeCursor(cursor: WorklistCursor): string {
  return Buffer.from(JSON.stringify(cursor)).toString('base64url');
}

export function decodeCursor(text: string): WorklistCursor {
  try {
    const value = JSON.parse(Buffer.from(text, 'base64url').toString('utf8')) as Partial<WorklistCursor>;
    if (
      typeof value.rank === 'number' &&
      typeof value.at === 'string' &&
      !Number.isNaN(Date.parse(value.at)) &&
      typeof value.id === 'string' &&
      /^[0-9a-f-]{36}$/.test(value.id) &&
      (value.cutoff === undefined || (typeof value.cutoff === 'string' && !Number.isNaN(Date.parse(value.cutoff))))
    ) {
      return { rank: value.rank, at: value.at, id: value.id, ...(value.cutoff ? { cutoff: value.cutoff } : {}) };
    }
  } catch {
    // fall through to the error below
  }
  throw new AppError('bad_request', 'The cursor is not valid; start again from the first page');
}

export class ScanService {
  /**
   * Worklist pages, kept for WORKLIST_CACHE_MS (250 ms by default): a department's clinicians
   * poll the same queue, and one read can answer them all. Any change to a scan made in this
   * process empties it at once ('scans-changed'); a change made by another process sharing the
   * database shows within the same short time. Each read is still authorised and audited.
   */
  private readonly worklists = new LruCache<string, { at: number; page: Promise<WorklistPage> }>(2_000, () => 1);

  constructor(private readonly ctx: AppContext) {
    ctx.signals.on('scans-changed', () => this.worklists.clear());
  }

  /**
   * Accepts one or many files through the one ingest path (services/ingest.ts): all are checked
   * before anything is stored, then recorded in one transaction; any failure leaves nothing.
   */
  async upload(
    session: AuthenticatedSession,
    files: UploadedFile[],
    options: { patientId?: string | undefined },
  ): Promise<ScanSummary[]> {
    const { actor } = session;
    deny(decide(actor, 'scan.upload', { kind: 'organisation', orgId: actor.orgId }));
    const patient: PatientChoice =
      actor.role === 'patient'
        ? { of: 'user', userId: actor.userId }
        : options.patientId
          ? { of: 'record', patientId: options.patientId }
          : { of: 'dicom' };
    const ingested = await ingestInstances(this.ctx, {
      orgId: actor.orgId,
      source: 'upload',
      actor: { userId: actor.userId, role: actor.role, scope: scopeOf(session) },
      files,
      patient,
      onDuplicate: 'refuse',
    });
    return withScope(this.ctx.db, scopeOf(session), async (tx) => {
      const rows = await Promise.all(ingested.map((item) => findScan(tx, item.scan.id)));
      return rows.map((row) => toSummary(row!, this.ctx.cipher));
    });
  }

  async list(session: AuthenticatedSession, request: WorklistRequest): Promise<WorklistPage> {
    const { actor } = session;
    deny(decide(actor, 'scan.list', { kind: 'organisation', orgId: actor.orgId }));
    const statuses = request.statuses?.length ? request.statuses : queueStatuses(actor.role);
    const order = actor.role === 'patient' ? 'newest' : 'queue';
    // Everything the page depends on: clinicians of one organisation and role see the same queue;
    // a patient sees only their own scans, so the patient is part of the key. (When consent grants
    // (SPEC A5) make visibility differ between clinicians, the user joins the key too.)
    const key = JSON.stringify([
      actor.orgId,
      session.dbRole,
      actor.role === 'patient' ? actor.userId : null,
      statuses,
      request.from?.toISOString() ?? null,
      request.to?.toISOString() ?? null,
      request.priority ?? null,
      request.cursor ?? null,
      request.limit,
    ]);
    const cached = this.worklists.get(key);
    if (cached && Date.now() - cached.at < this.ctx.config.worklistCacheMs) return cached.page;
    // Single flight: requests that miss together share one read instead of each starting their own.
    const page = this.readWorklist(session, request, statuses, order);
    if (this.ctx.config.worklistCacheMs > 0) {
      const entry = { at: Date.now(), page };
      this.worklists.set(key, entry);
      page.catch(() => {
        if (this.worklists.get(key) === entry) this.worklists.delete(key);
      });
    }
    return page;
  }

  private async readWorklist(
    session: AuthenticatedSession,
    request: WorklistRequest,
    statuses: readonly ScanStatus[],
    order: 'queue' | 'newest',
  ): Promise<WorklistPage> {
    const { actor } = session;
    const after = request.cursor ? decodeCursor(request.cursor) : undefined;
    // The maximum-wait ceiling's cutoff is fixed when a paging session starts and travels in its
    // cursor: later pages sort exactly as the first did, however much time passes between them.
    const cutoff = after?.cutoff ?? maxWaitCutoff(new Date(), this.ctx.config.worklistMaxWaitMinutes).toISOString();
    const rows = await withScope(this.ctx.db, scopeOf(session), (tx) =>
      listScans(tx, {
        orgId: actor.orgId,
        patientUserId: actor.role === 'patient' ? actor.userId : undefined,
        statuses,
        order,
        from: request.from,
        to: request.to,
        priority: request.priority,
        after,
        cutoff,
        limit: request.limit + 1,
      }),
    );
    const page = rows.slice(0, request.limit);
    const last = page.at(-1);
    const nextCursor =
      rows.length > request.limit && last
        ? encodeCursor({
            rank: last.queue_rank,
            at: order === 'queue' ? last.status_since : last.received_at,
            id: last.id,
            ...(order === 'queue' ? { cutoff } : {}),
          })
        : null;
    return { items: page.map((row) => toSummary(row, this.ctx.cipher)), nextCursor };
  }

  async counts(session: AuthenticatedSession): Promise<StatusCount[]> {
    deny(decide(session.actor, 'scan.list', { kind: 'organisation', orgId: session.actor.orgId }));
    return withScope(this.ctx.db, scopeOf(session), (tx) => countScans(tx));
  }

  /** Scans flagged by an integrity failure, waiting for a doctor's and an administrator's look. */
  async integrityReview(session: AuthenticatedSession, limit: number): Promise<ScanSummary[]> {
    deny(decide(session.actor, 'scan.integrity_review', { kind: 'organisation', orgId: session.actor.orgId }));
    return withScope(this.ctx.db, scopeOf(session), async (tx) =>
      (await listIntegrityReview(tx, limit)).map((row) => toSummary(row, this.ctx.cipher)),
    );
  }

  /** Clinicians without a verified licence and admins without a second factor are told so
   * plainly, before row-level security would simply show them nothing. */
  private assertClinicalAccess(actor: Actor): void {
    deny(decide(actor, 'scan.list', { kind: 'organisation', orgId: actor.orgId }));
  }

  async get(session: AuthenticatedSession, id: string): Promise<ScanDetail> {
    this.assertClinicalAccess(session.actor);
    return withScope(this.ctx.db, scopeOf(session), async (tx) => {
      const row = await findScan(tx, id);
      if (!row) throw notFound('Scan');
      deny(decide(session.actor, 'scan.read', scanResource(row)));
      return toDetail(tx, row, this.ctx.cipher);
    });
  }

  /**
   * Access to a scan's stored bytes: the policy is asked first, and `load` decrypts and re-checks
   * the recorded SHA-256, flagging the scan if they no longer match (SPEC L3).
   */
  async openImage(
    session: AuthenticatedSession,
    id: string,
  ): Promise<{ sha256: string; mediaType: string; filename: string; load: () => Promise<Buffer> }> {
    const row = await this.readable(session, id);
    const load = async () => {
      try {
        return await this.ctx.blobs.get(row.blob_sha256);
      } catch (error) {
        if (!(error instanceof IntegrityError)) throw error;
        await flagIntegrityFailure(this.ctx, row, error.message);
        throw new AppError(
          'integrity_failure',
          'The stored image failed its integrity check. The case has been flagged.',
        );
      }
    };
    return {
      sha256: row.blob_sha256,
      mediaType: row.media_type,
      filename: `scan-${row.id}.${extensionOf(row.format)}`,
      load,
    };
  }

  /** The scan, if the session may read it (else 403/404, with the policy's reason). */
  private async readable(session: AuthenticatedSession, id: string): Promise<ScanRow> {
    this.assertClinicalAccess(session.actor);
    return withScope(this.ctx.db, scopeOf(session), async (tx) => {
      const found = await findScan(tx, id);
      if (!found) throw notFound('Scan');
      deny(decide(session.actor, 'scan.read', scanResource(found)));
      return found;
    });
  }

  /** The original bytes, decrypted and re-verified against the recorded SHA-256. */
  async readImage(
    session: AuthenticatedSession,
    id: string,
  ): Promise<{ bytes: Buffer; mediaType: string; filename: string }> {
    const image = await this.openImage(session, id);
    return { bytes: await image.load(), mediaType: image.mediaType, filename: image.filename };
  }

  async transition(
    session: AuthenticatedSession,
    id: string,
    input: TransitionInput & { version: number },
  ): Promise<ScanDetail> {
    const { actor } = session;
    this.assertClinicalAccess(actor);
    const detail = await withScope(this.ctx.db, scopeOf(session), async (tx) => {
      const row = await findScan(tx, id);
      if (!row) throw notFound('Scan');
      // Visibility first, then staleness (a second concurrent approval learns it lost, with a
      // 409), then whether this role may act on the case in its current state.
      deny(decide(actor, 'scan.read', scanResource(row)));
      if (row.version !== input.version) {
        throw new AppError('stale_version', 'The case changed since you loaded it; reload and try again', {
          currentVersion: row.version,
        });
      }
      deny(decide(actor, 'scan.transition', scanResource(row)));
      const plan = planTransition(row.status, actor.role, input);
      if (plan.to === 'REPORT_READY' && row.integrity !== 'ok') {
        throw new AppError('integrity_failure', 'A case whose image failed its integrity check cannot be released');
      }
      const cipher = this.ctx.cipher;
      // Optimistic concurrency: the update applies only to the version the user saw. Of two
      // concurrent approvals one updates; the other finds the version moved on and gets a 409.
      const updated = await tx.query(
        `UPDATE scans SET status = $3, version = version + 1, status_since = now(), updated_at = now(),
                findings_enc = COALESCE($4, findings_enc), prescription_enc = COALESCE($5, prescription_enc)
          WHERE id = $1 AND version = $2`,
        [
          id,
          input.version,
          plan.to,
          plan.findings ? cipher.encryptJson(plan.findings) : null,
          plan.prescription ? cipher.encryptJson(plan.prescription) : null,
        ],
      );
      if (updated.rowCount !== 1) {
        throw new AppError('stale_version', 'Someone else acted on this case first; reload to see what changed');
      }
      const note = plan.reason ?? plan.notes;
      await insertScanEvent(tx, {
        orgId: actor.orgId,
        scanId: id,
        action: plan.action,
        from: plan.from,
        to: plan.to,
        actorUserId: actor.userId,
        actorRole: actor.role,
        notesEnc: note ? cipher.encrypt(note) : null,
      });
      // A case sent back to PENDING_AI is a request to analyse it again: queue the pre-read with it.
      if (plan.to === 'PENDING_AI') {
        await enqueueJob(tx, { orgId: actor.orgId, kind: AI_PREREAD_JOB, payload: { scanId: id } });
      }
      // An approval queues its report with it: no released case without its report job.
      if (plan.to === 'REPORT_READY') {
        await enqueueJob(tx, { orgId: actor.orgId, kind: REPORT_GENERATE_JOB, payload: { scanId: id } });
      }
      return toDetail(tx, (await findScan(tx, id))!, cipher);
    });
    this.ctx.signals.emit('scans-changed');
    if (detail.status === 'PENDING_AI' || detail.status === 'REPORT_READY') this.ctx.signals.emit('jobs');
    return detail;
  }
}

/** What a run produced beyond the headline result: artefacts, thresholds and stage timings. */
export interface AiArtefacts {
  embedding?: number[];
  /**
   * The map of `result.heatmap`: its grid, from which both pictures are drawn when someone looks;
   * or, from a caller that drew them, the grey map's blob (the colour overlay's is `result.heatmap`).
   */
  heatmap?: { grid?: Heatmap; sha256?: string; method: 'gradcam' | 'occlusion' } | null;
  thresholds?: { uncertain: number; high: number };
  timings?: AnalysisTimings;
}

/**
 * Records an AI analysis of a scan: a new version in `analyses` (earlier runs stay as they were),
 * the scan pointed at it, and the scan moved PENDING_AI → AI_ANALYZED. A re-run a doctor asked for
 * (`rerun`) records a new version of a scan that is past PENDING_AI without moving it (nor its
 * waiting time). The single entry point for AI results: the inference worker calls it (tests too).
 */
export async function recordAiResult(
  ctx: AppContext,
  target: { orgId: string; scanId: string },
  result: AiResult,
  artefacts: AiArtefacts = {},
  options: AiRecordOptions = {},
): Promise<{ analysisVersion: number }> {
  const [outcome] = await recordAiResults(ctx, target.orgId, [{ scanId: target.scanId, result, artefacts, options }]);
  if (outcome!.status === 'rejected') throw outcome!.reason;
  return outcome!.value;
}

export interface AiRecordOptions {
  rerun?: boolean;
  requestedBy?: string | null;
}

export interface AiRecord {
  scanId: string;
  result: AiResult;
  artefacts?: AiArtefacts;
  options?: AiRecordOptions;
}

/**
 * `recordAiResult` for several scans of one organisation in one transaction (the pre-read worker
 * with a full queue: one commit instead of one per scan). Settles each record on its own: when the
 * shared transaction fails, each record is retried alone, so one bad record fails only itself.
 */
export async function recordAiResults(
  ctx: AppContext,
  orgId: string,
  records: readonly AiRecord[],
): Promise<PromiseSettledResult<{ analysisVersion: number }>[]> {
  type Outcome = PromiseSettledResult<{ analysisVersion: number }>;
  const outcomes: Outcome[] = [];
  const recordable: { index: number; record: AiRecord; confidence: number }[] = [];
  records.forEach((record, index) => {
    try {
      recordable.push({ index, record, confidence: validatedConfidence(record.result) });
    } catch (reason) {
      outcomes[index] = { status: 'rejected', reason };
    }
  });
  // Records all of `items` in one transaction, or none of them.
  const recordTogether = async (items: typeof recordable): Promise<void> => {
    const versions = await withScope(ctx.db, { orgId, userId: null, dbRole: 'system' }, (tx) =>
      recordAiResultsIn(tx, orgId, items),
    );
    items.forEach(
      ({ index }, k) => (outcomes[index] = { status: 'fulfilled', value: { analysisVersion: versions[k]! } }),
    );
  };
  try {
    await recordTogether(recordable);
  } catch (reason) {
    if (recordable.length <= 1) {
      for (const { index } of recordable) outcomes[index] = { status: 'rejected', reason };
    } else {
      for (const item of recordable) {
        await recordTogether([item]).catch((error: unknown) => {
          outcomes[item.index] = { status: 'rejected', reason: error };
        });
      }
    }
  }
  if (outcomes.some((o) => o.status === 'fulfilled')) ctx.signals.emit('scans-changed');
  return outcomes;
}

/** The result's probabilities and score are in range; returns its confidence (postprocess's rule when unsaid). */
function validatedConfidence(result: AiResult): number {
  for (const label of result.labels) {
    if (!(label.probability >= 0 && label.probability <= 1)) {
      throw new AppError('validation_failed', `Probability for ${label.id} must be between 0 and 1`);
    }
  }
  if (!(result.priorityScore >= 0 && result.priorityScore <= 1)) {
    throw new AppError('validation_failed', 'The priority score must be between 0 and 1');
  }
  // The rule of @scanflow/inference's postprocess, for callers that did not say.
  const highest = Math.max(0, ...result.labels.map((l) => l.probability));
  return result.confidence ?? (result.topFinding ? result.topFinding.probability : 1 - highest);
}

/**
 * The records' writes inside the caller's scoped transaction, a statement per table for all of
 * them; returns each record's new analysis version. Any failure (a scan gone, a transition not
 * allowed, a scan changed meanwhile) throws, and the caller's transaction rolls back as a whole.
 */
async function recordAiResultsIn(
  tx: Transaction,
  orgId: string,
  items: readonly { record: AiRecord; confidence: number }[],
): Promise<number[]> {
  const rows = new Map(
    (
      await findScanStates(
        tx,
        items.map((i) => i.record.scanId),
      )
    ).map((r) => [r.id, r]),
  );
  const planned = items.map(({ record, confidence }) => {
    const row = rows.get(record.scanId);
    if (!row) throw notFound('Scan');
    const rerun = record.options?.rerun === true && row.status !== 'PENDING_AI';
    const plan = rerun
      ? { action: 'ai_rerun', from: row.status, to: row.status }
      : planTransition(row.status, 'system', { action: 'record_ai' });
    return { ...record, artefacts: record.artefacts ?? {}, confidence, row, plan };
  });
  const analyses = await insertAnalyses(
    tx,
    planned.map(({ result, artefacts, options, confidence, row }) => ({
      orgId,
      scanId: row.id,
      model: result.model,
      labels: result.labels,
      thresholds: {
        labels: Object.fromEntries(
          result.labels.flatMap((l) => (l.threshold === undefined ? [] : [[l.id, l.threshold]])),
        ),
        uncertain: artefacts.thresholds?.uncertain ?? null,
        high: artefacts.thresholds?.high ?? null,
      },
      topFinding: result.topFinding,
      confidence,
      uncertain: result.uncertain,
      priority: result.priority,
      priorityScore: result.priorityScore,
      heatmap:
        result.heatmap && artefacts.heatmap
          ? {
              label: result.heatmap.label,
              method: artefacts.heatmap.method,
              grid: artefacts.heatmap.grid ? heatmapGridJson(artefacts.heatmap.grid) : null,
              sha256: artefacts.heatmap.sha256 ?? null,
              overlaySha256: result.heatmap.sha256 ?? null,
            }
          : null,
      embedding: artefacts.embedding ?? null,
      timings: artefacts.timings ?? null,
      requestedBy: options?.requestedBy ?? null,
    })),
  );
  const updated = await tx.query(
    `UPDATE scans s SET status = u.status, version = s.version + 1, updated_at = now(),
            status_since = CASE WHEN s.status = u.status THEN s.status_since ELSE now() END,
            ai_result = u.ai_result, ai_recorded_at = now(), priority = u.priority, priority_rank = u.priority_rank,
            priority_score = u.priority_score, embedding = u.embedding, heatmap_sha256 = u.heatmap_sha256,
            analysis_id = u.analysis_id
       FROM jsonb_to_recordset($1::jsonb) AS u(id uuid, version integer, status text, ai_result jsonb, priority text,
            priority_rank integer, priority_score real, embedding real[], heatmap_sha256 text, analysis_id uuid)
      WHERE s.id = u.id AND s.version = u.version`,
    [
      JSON.stringify(
        planned.map(({ result, artefacts, confidence, row, plan }, i) => ({
          id: row.id,
          version: row.version,
          status: plan.to,
          ai_result: { ...result, confidence, analysisVersion: analyses[i]!.version },
          priority: result.priority,
          priority_rank: result.priority === 'HIGH' ? 0 : 1,
          priority_score: result.priorityScore,
          embedding: artefacts.embedding ?? null,
          heatmap_sha256: result.heatmap?.sha256 ?? null,
          analysis_id: analyses[i]!.id,
        })),
      ),
    ],
  );
  if (updated.rowCount !== planned.length) {
    throw new AppError('stale_version', 'The scan changed while its result was recorded');
  }
  await insertScanEvents(
    tx,
    planned.map(({ row, plan }) => ({
      orgId,
      scanId: row.id,
      action: plan.action,
      from: plan.from,
      to: plan.to,
      actorUserId: null,
      actorRole: 'system',
      notesEnc: null,
    })),
  );
  await AuditLog.recordManyIn(
    tx,
    planned.map(({ result, options, row }, i) => ({
      orgId,
      actorUserId: null,
      actorRole: 'system',
      action: 'scan.ai_result',
      resourceType: 'scan',
      resourceId: row.id,
      outcome: 'success',
      details: {
        model: result.model.name,
        modelVersion: result.model.version,
        analysisVersion: analyses[i]!.version,
        requestedBy: options?.requestedBy ?? null,
      },
    })),
  );
  return analyses.map((a) => a.version);
}

/** Marks a scan whose stored bytes no longer match their hash (SPEC L3) and audits it. */
export async function flagIntegrityFailure(
  ctx: AppContext,
  row: Pick<ScanRow, 'id' | 'org_id'>,
  reason: string,
): Promise<void> {
  await withScope(ctx.db, { orgId: row.org_id, userId: null, dbRole: 'system' }, async (tx) => {
    await tx.query(`UPDATE scans SET integrity = 'mismatch', updated_at = now() WHERE id = $1`, [row.id]);
    await AuditLog.recordIn(tx, {
      orgId: row.org_id,
      actorUserId: null,
      actorRole: 'system',
      action: 'scan.integrity_failure',
      resourceType: 'scan',
      resourceId: row.id,
      outcome: 'failure',
      reason,
    });
  });
  ctx.signals.emit('scans-changed');
}

function extensionOf(format: string): string {
  return format === 'dicom' ? 'dcm' : format === 'jpeg' ? 'jpg' : format === 'tiff' ? 'tif' : 'png';
}
