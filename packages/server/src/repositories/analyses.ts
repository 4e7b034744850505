/**
 * SQL for versioned AI results (the `analyses` table). Every function takes a transaction the
 * caller has scoped (db/scope.ts): row-level security gives an analysis the visibility of its scan.
 */
import type { Priority } from '@scanflow/domain';
import type { Queryable } from '../db/database.ts';

export interface AnalysisLabel {
  id: string;
  display: string;
  probability: number;
  /** Absent only in results recorded by callers that did not know the model's thresholds. */
  threshold?: number;
  positive?: boolean;
}

export interface AnalysisThresholds {
  labels: Record<string, number>;
  uncertain: number | null;
  high: number | null;
}

/**
 * Stage timings of one run, milliseconds: read (decrypt + verify), decode, preprocess, infer,
 * explain; runs recorded before heatmaps were drawn on request also have encode and store.
 */
export type AnalysisTimings = Partial<
  Record<'read' | 'decode' | 'preprocess' | 'infer' | 'explain' | 'encode' | 'store', number>
>;

/** A heatmap's grid as kept (@scanflow/inference's Heatmap, its values as a plain array). */
export interface HeatmapGridJson {
  label: string;
  width: number;
  height: number;
  values: number[];
  imageRegion?: { top: number; left: number; height: number; width: number };
}

export interface NewAnalysis {
  orgId: string;
  scanId: string;
  model: { name: string; version: string };
  labels: AnalysisLabel[];
  thresholds: AnalysisThresholds;
  topFinding: { id: string; display: string; probability: number } | null;
  confidence: number;
  uncertain: boolean;
  priority: Priority;
  priorityScore: number;
  /**
   * The map kept as its grid (drawn when someone looks), or, from callers that drew them, the
   * stored grey map and colour overlay.
   */
  heatmap: {
    label: string;
    method: 'gradcam' | 'occlusion';
    grid: HeatmapGridJson | null;
    sha256: string | null;
    overlaySha256: string | null;
  } | null;
  embedding: number[] | null;
  timings: AnalysisTimings | null;
  requestedBy: string | null;
}

export interface AnalysisRow {
  id: string;
  scan_id: string;
  version: number;
  model_name: string;
  model_version: string;
  labels: AnalysisLabel[];
  thresholds: AnalysisThresholds;
  top_finding: { id: string; display: string; probability: number } | null;
  confidence: number;
  uncertain: boolean;
  priority: Priority;
  priority_score: number;
  heatmap_label: string | null;
  heatmap_sha256: string | null;
  overlay_sha256: string | null;
  heatmap_method: 'gradcam' | 'occlusion' | null;
  heatmap_grid: HeatmapGridJson | null;
  timings: AnalysisTimings | null;
  requested_by: string | null;
  created_at: Date;
  /** Whether the scan points at this run. */
  current: boolean;
}

/**
 * Appends a run as the scan's next version. The caller holds the scan's row (it updates it in the
 * same transaction, under its version check), so two runs of one scan cannot take one number.
 */
export async function insertAnalysis(tx: Queryable, a: NewAnalysis): Promise<{ id: string; version: number }> {
  const [row] = await insertAnalyses(tx, [a]);
  return row!;
}

/**
 * Appends several runs (of different scans) in one statement, each as its scan's next version;
 * returns each run's id and version, in the order given. Rows travel as one JSON document (JSON
 * arrays become real[] and nested objects jsonb), far cheaper on PGlite than a statement per run.
 */
export async function insertAnalyses(
  tx: Queryable,
  runs: readonly NewAnalysis[],
): Promise<{ id: string; version: number }[]> {
  if (runs.length === 0) return [];
  const { rows } = await tx.query<{ id: string; scan_id: string; version: number }>(
    `INSERT INTO analyses (org_id, scan_id, version, model_name, model_version, labels, thresholds, top_finding,
                           confidence, uncertain, priority, priority_score, heatmap_label, heatmap_sha256,
                           overlay_sha256, heatmap_method, heatmap_grid, embedding, timings, requested_by)
     SELECT r.org_id, r.scan_id, (SELECT coalesce(max(a.version), 0) + 1 FROM analyses a WHERE a.scan_id = r.scan_id),
            r.model_name, r.model_version, r.labels, r.thresholds, r.top_finding, r.confidence, r.uncertain,
            r.priority, r.priority_score, r.heatmap_label, r.heatmap_sha256, r.overlay_sha256, r.heatmap_method,
            r.heatmap_grid, r.embedding, r.timings, r.requested_by
       FROM jsonb_to_recordset($1::jsonb) AS r(org_id uuid, scan_id uuid, model_name text, model_version text,
            labels jsonb, thresholds jsonb, top_finding jsonb, confidence real, uncertain boolean, priority text,
            priority_score real, heatmap_label text, heatmap_sha256 text, overlay_sha256 text, heatmap_method text,
            heatmap_grid jsonb, embedding real[], timings jsonb, requested_by uuid)
     RETURNING id, scan_id, version`,
    [
      JSON.stringify(
        runs.map((a) => ({
          org_id: a.orgId,
          scan_id: a.scanId,
          model_name: a.model.name,
          model_version: a.model.version,
          labels: a.labels,
          thresholds: a.thresholds,
          top_finding: a.topFinding,
          confidence: a.confidence,
          uncertain: a.uncertain,
          priority: a.priority,
          priority_score: a.priorityScore,
          heatmap_label: a.heatmap?.label ?? null,
          heatmap_sha256: a.heatmap?.sha256 ?? null,
          overlay_sha256: a.heatmap?.overlaySha256 ?? null,
          heatmap_method: a.heatmap?.method ?? null,
          heatmap_grid: a.heatmap?.grid ?? null,
          embedding: a.embedding,
          timings: a.timings,
          requested_by: a.requestedBy,
        })),
      ),
    ],
  );
  // A scan appears at most once per call (its version comes from the rows before it).
  const byScan = new Map(rows.map((r) => [r.scan_id, { id: r.id, version: r.version }]));
  if (byScan.size !== runs.length) throw new Error('insertAnalyses: one run per scan per call');
  return runs.map((a) => byScan.get(a.scanId)!);
}

const COLUMNS = `a.id, a.scan_id, a.version, a.model_name, a.model_version, a.labels, a.thresholds, a.top_finding,
  a.confidence, a.uncertain, a.priority, a.priority_score, a.heatmap_label, a.heatmap_sha256, a.overlay_sha256,
  a.heatmap_method, a.heatmap_grid, a.timings, a.requested_by, a.created_at, (s.analysis_id = a.id) AS current`;

/** One run of a scan: the given version, or the scan's current one. */
export async function findAnalysis(tx: Queryable, scanId: string, version?: number): Promise<AnalysisRow | null> {
  const { rows } = await tx.query<AnalysisRow>(
    version === undefined
      ? `SELECT ${COLUMNS} FROM scans s JOIN analyses a ON a.id = s.analysis_id WHERE s.id = $1`
      : `SELECT ${COLUMNS} FROM analyses a JOIN scans s ON s.id = a.scan_id WHERE a.scan_id = $1 AND a.version = $2`,
    version === undefined ? [scanId] : [scanId, version],
  );
  return rows[0] ?? null;
}

/** Every run of a scan, newest first. */
export async function listAnalyses(tx: Queryable, scanId: string): Promise<AnalysisRow[]> {
  const { rows } = await tx.query<AnalysisRow>(
    `SELECT ${COLUMNS} FROM analyses a JOIN scans s ON s.id = a.scan_id WHERE a.scan_id = $1 ORDER BY a.version DESC`,
    [scanId],
  );
  return rows;
}
