/**
 * The AI pre-read (SPEC M3–M6): a job per new scan, run by the worker. It reads the scan's bytes
 * (re-verifying their hash), decodes them in an isolated worker thread with hard limits, runs the
 * active model (services/ai-pipeline.ts), stores the grey Grad-CAM map and its colour overlay as
 * encrypted blobs, and records the result through `recordAiResult`, the single entry point that
 * writes a new analysis version, moves the scan to AI_ANALYZED and sets its priority.
 *
 * The same job with `rerun: true` is a doctor's request to analyse a scan again (for example
 * after a model change): a new version, the scan's status and waiting time left as they are.
 */
import { ImagingError, type DecodePool } from '@scanflow/imaging';
import type { InferenceEngine } from '@scanflow/inference';
import type { AppContext } from '../context.ts';
import { withScope } from '../db/scope.ts';
import { PermanentJobError, type JobHandler } from '../jobs/worker.ts';
import { findScan } from '../repositories/scans.ts';
import { IntegrityError } from '../storage/blob-store.ts';
import { AuditLog } from '../audit/audit-log.ts';
import { runAnalysisPipeline } from './ai-pipeline.ts';
import { flagIntegrityFailure, recordAiResult } from './scan-service.ts';

/** What an AI job's payload carries: identifiers only. */
export interface AiJobPayload {
  scanId: string;
  /** A doctor's re-run (POST /scans/{id}/analysis) rather than the automatic pre-read. */
  rerun?: boolean;
  requestedBy?: string;
}

export function createPrereadHandler(ctx: AppContext, engine: InferenceEngine, decoder: DecodePool): JobHandler {
  return async (job) => {
    const payload = job.payload as Partial<AiJobPayload>;
    const scanId = String(payload.scanId);
    const rerun = payload.rerun === true;
    const system = { orgId: job.orgId, userId: null, dbRole: 'system' as const };
    const row = await withScope(ctx.db, system, (tx) => findScan(tx, scanId));
    if (!row) throw new PermanentJobError('the scan no longer exists');
    // Analysed already (a retried or duplicated pre-read job); a re-run applies to any status.
    if (row.status !== 'PENDING_AI' && !rerun) return;

    const started = performance.now();
    let bytes: Buffer;
    try {
      bytes = await ctx.blobs.get(row.blob_sha256);
    } catch (error) {
      if (!(error instanceof IntegrityError)) throw error;
      await flagIntegrityFailure(ctx, row, error.message);
      throw new PermanentJobError('the stored image failed its integrity check');
    }
    const read = performance.now() - started;

    let result;
    try {
      const limits = { maxPixels: ctx.config.maxImagePixels, maxDimension: ctx.config.maxImageDimension };
      result = await runAnalysisPipeline(
        bytes,
        engine.preparation
          ? // The bytes were read for this job alone: moved to the worker, not copied.
            { decodePrepared: (b, preparation) => decoder.decodePrepared(b, limits, preparation, { giveBytes: true }) }
          : (b) => decoder.decode(b, limits),
        engine,
      );
    } catch (error) {
      if (!(error instanceof ImagingError)) throw error;
      await withScope(ctx.db, system, (tx) =>
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

    const { analysis, heatmapPng, overlayPng, timings } = result;
    const t0 = performance.now();
    const [heatmap, overlay] = await Promise.all([
      heatmapPng ? ctx.blobs.put(heatmapPng) : null,
      overlayPng ? ctx.blobs.put(overlayPng) : null,
    ]);
    const store = performance.now() - t0;
    const explained = analysis.heatmap && heatmap && overlay ? analysis.heatmap : null;
    await recordAiResult(
      ctx,
      { orgId: job.orgId, scanId },
      {
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
        heatmap: explained && overlay ? { label: explained.label, sha256: overlay.sha256 } : null,
      },
      {
        embedding: analysis.embedding,
        heatmap: explained && heatmap ? { sha256: heatmap.sha256, method: explained.method } : null,
        thresholds: analysis.thresholds,
        timings: { read, ...timings, store },
      },
      { rerun, requestedBy: payload.requestedBy ?? null },
    );
    ctx.signals.emit('scan-analysed', { orgId: job.orgId, scanId, priority: analysis.priority });
  };
}
