/**
 * The AI pre-read (SPEC M3–M6): a job per new scan, run by the worker. It reads the scan's bytes
 * (re-verifying their hash), decodes them in an isolated worker thread with hard limits, asks the
 * active model for an analysis, stores the Grad-CAM heatmap as an encrypted blob and the
 * embedding with the scan, and records the result through `recordAiResult`, the single entry
 * point that moves the scan to AI_ANALYZED and sets its priority.
 */
import { ImagingError, type DecodePool } from '@scanflow/imaging';
import { renderHeatmapPng, type InferenceEngine } from '@scanflow/inference';
import type { AppContext } from '../context.ts';
import { withScope } from '../db/scope.ts';
import { PermanentJobError, type JobHandler } from '../jobs/worker.ts';
import { findScan } from '../repositories/scans.ts';
import { IntegrityError } from '../storage/blob-store.ts';
import { AuditLog } from '../audit/audit-log.ts';
import { flagIntegrityFailure, recordAiResult } from './scan-service.ts';

// Heatmaps are stored at most this large on their longest side; the viewer scales them to the image.
const HEATMAP_MAX_SIDE = 1024;

export function createPrereadHandler(ctx: AppContext, engine: InferenceEngine, decoder: DecodePool): JobHandler {
  return async (job) => {
    const scanId = String(job.payload.scanId);
    const system = { orgId: job.orgId, userId: null, dbRole: 'system' as const };
    const row = await withScope(ctx.db, system, (tx) => findScan(tx, scanId));
    if (!row) throw new PermanentJobError('the scan no longer exists');
    if (row.status !== 'PENDING_AI') return; // analysed already (a retried or duplicated job)

    let bytes: Buffer;
    try {
      bytes = await ctx.blobs.get(row.blob_sha256);
    } catch (error) {
      if (!(error instanceof IntegrityError)) throw error;
      await flagIntegrityFailure(ctx, row, error.message);
      throw new PermanentJobError('the stored image failed its integrity check');
    }

    let image;
    try {
      image = await decoder.decode(bytes, {
        maxPixels: ctx.config.maxImagePixels,
        maxDimension: ctx.config.maxImageDimension,
      });
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

    const analysis = await engine.analyse(image);
    let heatmap: { label: string; sha256: string } | null = null;
    if (analysis.heatmap) {
      const scale = Math.min(1, HEATMAP_MAX_SIDE / Math.max(image.width, image.height));
      const { png } = await renderHeatmapPng(analysis.heatmap, {
        width: Math.max(1, Math.round(image.width * scale)),
        height: Math.max(1, Math.round(image.height * scale)),
      });
      const stored = await ctx.blobs.put(png);
      heatmap = { label: analysis.heatmap.label, sha256: stored.sha256 };
    }
    await recordAiResult(
      ctx,
      { orgId: job.orgId, scanId },
      {
        model: analysis.model,
        labels: analysis.labels.map(({ id, display, probability }) => ({ id, display, probability })),
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
        heatmap,
      },
      { embedding: analysis.embedding },
    );
    ctx.signals.emit('scan-analysed', { orgId: job.orgId, scanId, priority: analysis.priority });
  };
}
