/**
 * The AI pre-read (SPEC M3–M6): a job per new scan, run by the worker. It reads the scan's stored
 * envelope and, in an isolated decode worker thread with hard limits, decrypts it, re-verifies its
 * hash, decodes it and runs the active model's whole analysis with its Grad-CAM heatmap
 * (services/ai-pipeline.ts); then it records the result through `recordAiResults`, which writes a
 * new analysis version (the heatmap kept as its small grid, drawn when someone looks), moves the
 * scan to AI_ANALYZED and sets its priority.
 *
 * Jobs come in batches (up to AI_BATCH_SIZE when the queue is full): the scans are read in one
 * statement and the results recorded in one transaction, while the images go through the decode
 * threads and the model one by one. Each job still succeeds or fails on its own.
 *
 * The same job with `rerun: true` is a doctor's request to analyse a scan again (for example
 * after a model change): a new version, the scan's status and waiting time left as they are.
 */
import { isUuid } from '@scanflow/domain';
import { ImagingError, NotOpenedError, type DecodePool } from '@scanflow/imaging';
import { heatmapGrid, type InferenceEngine } from '@scanflow/inference';
import type { AppContext } from '../context.ts';
import { withScope } from '../db/scope.ts';
import { PermanentJobError, type BatchJobHandler } from '../jobs/worker.ts';
import type { Job } from '../jobs/queue.ts';
import { findScanStates, type ScanState } from '../repositories/scans.ts';
import { IntegrityError, OPEN_VERIFIED, type SealedBlob } from '../storage/blob-store.ts';
import { AuditLog } from '../audit/audit-log.ts';
import { runAnalysisPipeline } from './ai-pipeline.ts';
import { flagIntegrityFailure, recordAiResults, type AiRecord } from './scan-service.ts';

/** What an AI job's payload carries: identifiers only. */
export interface AiJobPayload {
  scanId: string;
  /** A doctor's re-run (POST /scans/{id}/analysis) rather than the automatic pre-read. */
  rerun?: boolean;
  requestedBy?: string;
}

/**
 * Jobs taken at once. Enough that a full queue costs a few statements per batch rather than per
 * scan; few enough that a batch's results, recorded together, are not held back long.
 */
export const AI_BATCH_SIZE = 8;

export function createPrereadHandler(ctx: AppContext, engine: InferenceEngine, decoder: DecodePool): BatchJobHandler {
  return {
    batchSize: AI_BATCH_SIZE,
    async handleBatch(jobs) {
      const rows = await scansOf(ctx, jobs);
      // Analysed concurrently: the decode pool and the model queue them; the main thread waits.
      const analysed = await Promise.allSettled(
        jobs.map((job) => analyse(ctx, engine, decoder, job, rows.get(scanIdOf(job)))),
      );
      const outcomes: PromiseSettledResult<unknown>[] = [...analysed];
      // Record what was analysed, one transaction per organisation.
      const byOrg = new Map<string, { index: number; record: AiRecord }[]>();
      for (const [index, outcome] of analysed.entries()) {
        if (outcome.status !== 'fulfilled' || outcome.value === null) continue;
        const orgId = jobs[index]!.orgId;
        byOrg.set(orgId, [...(byOrg.get(orgId) ?? []), { index, record: outcome.value }]);
      }
      for (const [orgId, entries] of byOrg) {
        const recorded = await recordAiResults(
          ctx,
          orgId,
          entries.map((e) => e.record),
        );
        for (const [k, { index, record }] of entries.entries()) {
          outcomes[index] = recorded[k]!;
          if (recorded[k]!.status === 'fulfilled') {
            ctx.signals.emit('scan-analysed', { orgId, scanId: record.scanId, priority: record.result.priority });
          }
        }
      }
      return outcomes;
    },
  };
}

const scanIdOf = (job: Job): string => String((job.payload as Partial<AiJobPayload>).scanId);

/** The batch's scans, read as the system of each job's organisation: one statement per organisation. */
async function scansOf(ctx: AppContext, jobs: readonly Job[]): Promise<Map<string, ScanState>> {
  const rows = new Map<string, ScanState>();
  for (const orgId of new Set(jobs.map((j) => j.orgId))) {
    // A malformed id would fail the whole statement; it is simply not found (a permanent failure).
    const ids = jobs
      .filter((j) => j.orgId === orgId)
      .map(scanIdOf)
      .filter(isUuid);
    const found = await withScope(ctx.db, { orgId, userId: null, dbRole: 'system' }, (tx) => findScanStates(tx, ids));
    for (const row of found) rows.set(row.id, row);
  }
  return rows;
}

/** One job's analysis, ready to record; null when there is nothing to do (analysed already). */
async function analyse(
  ctx: AppContext,
  engine: InferenceEngine,
  decoder: DecodePool,
  job: Job,
  row: ScanState | undefined,
): Promise<AiRecord | null> {
  const payload = job.payload as Partial<AiJobPayload>;
  const scanId = scanIdOf(job);
  const rerun = payload.rerun === true;
  if (!row) throw new PermanentJobError('the scan no longer exists');
  // Analysed already (a retried or duplicated pre-read job); a re-run applies to any status.
  if (row.status !== 'PENDING_AI' && !rerun) return null;

  const started = performance.now();
  let sealed: SealedBlob;
  try {
    sealed = await ctx.blobs.getSealed(row.blob_sha256);
  } catch (error) {
    if (!(error instanceof IntegrityError)) throw error;
    return integrityFailure(ctx, row, error.message);
  }
  const fetched = performance.now() - started;

  let result;
  try {
    const limits = { maxPixels: ctx.config.maxImagePixels, maxDimension: ctx.config.maxImageDimension };
    // Read (a local file), decrypted and its hash re-checked in the decode thread. An envelope
    // read here was read for this job alone, so it is moved there, not copied.
    const { envelope, opening } = sealed;
    const open = { ...OPEN_VERIFIED, options: opening };
    result = await runAnalysisPipeline(
      envelope,
      engine.workerAnalysis
        ? {
            decodePrepared: (input, preparation) =>
              decoder.decodePrepared(input, limits, preparation, { giveBytes: true, open }),
          }
        : // Read and opened here: only engines that cannot run in a decode thread come this way.
          async () => decoder.decode(await ctx.blobs.get(row.blob_sha256), limits),
      engine,
    );
  } catch (error) {
    if (error instanceof NotOpenedError || error instanceof IntegrityError) {
      return integrityFailure(ctx, row, error.message);
    }
    if (!(error instanceof ImagingError)) throw error;
    await withScope(ctx.db, { orgId: job.orgId, userId: null, dbRole: 'system' }, (tx) =>
      AuditLog.recordIn(tx, {
        orgId: job.orgId,
        actorUserId: null,
        actorRole: 'system',
        action: 'scan.ai_failed',
        resourceType: 'scan',
        resourceId: scanId,
        outcome: 'failure',
        reason: error.message,
      }),
    );
    throw new PermanentJobError(`the image could not be decoded: ${error.message}`);
  }

  const { analysis, image, timings } = result;
  const explained = analysis.heatmap;
  const { open, ...stages } = timings;
  return {
    scanId,
    result: {
      model: analysis.model,
      labels: analysis.labels.map(({ id, display, probability, threshold, positive }) => ({
        id,
        display,
        probability,
        threshold,
        positive,
      })),
      topFinding: analysis.topFinding
        ? {
            id: analysis.topFinding.id,
            display: analysis.topFinding.display,
            probability: analysis.topFinding.probability,
          }
        : null,
      confidence: analysis.confidence,
      uncertain: analysis.uncertain,
      priorityScore: analysis.priorityScore,
      priority: analysis.priority,
      disclaimer: analysis.disclaimer,
      heatmap: explained ? { label: explained.label } : null,
    },
    artefacts: {
      embedding: analysis.embedding,
      heatmap: explained ? { grid: heatmapGrid(explained, image), method: explained.method } : null,
      thresholds: analysis.thresholds,
      // `read`: fetching the envelope plus decrypting and verifying it (in the decode thread).
      timings: { read: fetched + open, ...stages },
    },
    options: { rerun, requestedBy: payload.requestedBy ?? null },
  };
}

async function integrityFailure(ctx: AppContext, row: ScanState, reason: string): Promise<never> {
  await flagIntegrityFailure(ctx, row, reason);
  throw new PermanentJobError('the stored image failed its integrity check');
}
