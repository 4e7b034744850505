/**
 * A scan's AI analyses as the API shows them (SPEC M3, M5): the current run or any earlier one,
 * with every label's probability and threshold, the model, the heatmap images; and a doctor's
 * request to run the analysis again, which queues a job whose result is a new version. Each
 * operation asks the policy first and runs in the session's scope.
 */
import { AppError, decide, notFound } from '@scanflow/domain';
import { DISCLAIMER } from '@scanflow/inference';
import type { AppContext } from '../context.ts';
import type { Queryable } from '../db/database.ts';
import { withScope } from '../db/scope.ts';
import { enqueueJob } from '../jobs/queue.ts';
import { findAnalysis, listAnalyses, type AnalysisRow } from '../repositories/analyses.ts';
import type { ScanRow } from '../repositories/scans.ts';
import { enforce, scopeOf } from './access.ts';
import type { AiJobPayload } from './ai-preread.ts';
import type { AuthenticatedSession } from './auth-service.ts';
import { openCase } from './case-access.ts';
import { heatmapPicture, type HeatmapPicture } from './heatmap-pictures.ts';
import { AI_PREREAD_JOB } from './scan-service.ts';

export type AnalysisImage = HeatmapPicture;

export interface AnalysisVersionSummary {
  version: number;
  current: boolean;
  model: { name: string; version: string };
  createdAt: string;
  topFinding: { id: string; display: string; probability: number } | null;
  priority: 'HIGH' | 'ROUTINE';
  uncertain: boolean;
}

export interface AnalysisView extends AnalysisVersionSummary {
  scanId: string;
  labels: AnalysisRow['labels'];
  thresholds: AnalysisRow['thresholds'];
  confidence: number;
  priorityScore: number;
  heatmap: { label: string; method: string; heatmapUrl: string; overlayUrl: string } | null;
  timings: AnalysisRow['timings'];
  requestedBy: string | null;
  disclaimer: string;
  /** Every run of this scan, newest first. */
  versions: AnalysisVersionSummary[];
}

const summary = (a: AnalysisRow): AnalysisVersionSummary => ({
  version: a.version,
  current: a.current,
  model: { name: a.model_name, version: a.model_version },
  createdAt: a.created_at.toISOString(),
  topFinding: a.top_finding,
  priority: a.priority,
  uncertain: a.uncertain,
});

export class AnalysisService {
  constructor(private readonly ctx: AppContext) {}

  /** Clinicians without a verified licence and admins without a second factor are told so plainly,
   * before row-level security would simply hide the scan. */
  private inScan<T>(
    session: AuthenticatedSession,
    scanId: string,
    action: 'scan.read' | 'scan.reanalyse',
    fn: (tx: Queryable, scan: ScanRow) => Promise<T>,
  ): Promise<T> {
    enforce(decide(session.actor, 'scan.list', { kind: 'organisation', orgId: session.actor.orgId }), 'Scan');
    return withScope(this.ctx.db, scopeOf(session), async (tx) => fn(tx, await openCase(tx, session, scanId, action)));
  }

  /** The current analysis of a scan, or the given version; with the list of every run. */
  async get(session: AuthenticatedSession, scanId: string, version?: number): Promise<AnalysisView> {
    return this.inScan(session, scanId, 'scan.read', async (tx) => {
      const runs = await listAnalyses(tx, scanId);
      const run = version === undefined ? runs.find((r) => r.current) : runs.find((r) => r.version === version);
      if (!run) {
        throw version === undefined
          ? new AppError('not_found', 'This scan has not been analysed yet')
          : new AppError('not_found', `This scan has no analysis version ${version}`);
      }
      const base = `/api/v1/scans/${scanId}/analysis`;
      return {
        scanId,
        ...summary(run),
        labels: run.labels,
        thresholds: run.thresholds,
        confidence: run.confidence,
        priorityScore: run.priority_score,
        heatmap:
          run.heatmap_label && run.heatmap_method
            ? {
                label: run.heatmap_label,
                method: run.heatmap_method,
                heatmapUrl: `${base}/heatmap?version=${run.version}`,
                overlayUrl: `${base}/overlay?version=${run.version}`,
              }
            : null,
        timings: run.timings,
        requestedBy: run.requested_by,
        disclaimer: DISCLAIMER,
        versions: runs.map(summary),
      };
    });
  }

  /**
   * A heatmap picture of a run (the scan's current one unless `version`): the grey map (the data)
   * or the colour overlay (for viewers), drawn from the run's grid (heatmap-pictures.ts).
   */
  async image(
    session: AuthenticatedSession,
    scanId: string,
    kind: AnalysisImage,
    version?: number,
  ): Promise<{ png: Buffer; label: string; version: number }> {
    const found = await this.inScan(session, scanId, 'scan.read', async (tx, scan) => {
      const run = await findAnalysis(tx, scanId, version);
      return run && { run, size: { width: scan.width, height: scan.height } };
    });
    if (!found?.run.heatmap_label) throw notFound('Heatmap');
    const { run, size } = found;
    const png = await heatmapPicture(this.ctx, run, kind, size);
    if (!png) throw notFound('Heatmap');
    return { png, label: run.heatmap_label!, version: run.version };
  }

  /**
   * A doctor asks for the analysis again (after a model change, or a read they doubt): a job is
   * queued and its result becomes a new version; nothing is overwritten.
   */
  async rerun(session: AuthenticatedSession, scanId: string): Promise<{ scanId: string; jobId: string }> {
    const jobId = await this.inScan(session, scanId, 'scan.reanalyse', async (tx, scan) => {
      if (scan.status === 'PENDING_AI') {
        throw new AppError('conflict', 'This scan is waiting for its analysis already');
      }
      const queued = await tx.query(
        `SELECT 1 FROM jobs
          WHERE kind = $1 AND payload->>'scanId' = $2 AND payload->>'rerun' = 'true' AND status IN ('queued', 'running')
          LIMIT 1`,
        [AI_PREREAD_JOB, scanId],
      );
      if (queued.rows.length > 0) throw new AppError('conflict', 'A re-run of this scan is queued already');
      const payload: AiJobPayload = { scanId, rerun: true, requestedBy: session.actor.userId };
      return enqueueJob(tx, { orgId: session.actor.orgId, kind: AI_PREREAD_JOB, payload: { ...payload } });
    });
    this.ctx.signals.emit('jobs');
    return { scanId, jobId };
  }
}
