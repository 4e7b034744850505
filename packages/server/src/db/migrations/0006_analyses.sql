-- Versioned AI results (SPEC M3–M6): one row per analysis run of a scan, never updated. The scan
-- points at its current analysis (and keeps a copy of its headline in scans.ai_result for the
-- worklist); earlier runs stay readable, so a re-run after a model change overwrites nothing.

CREATE TABLE analyses (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  org_id uuid NOT NULL REFERENCES organisations(id),
  scan_id uuid NOT NULL REFERENCES scans(id),
  -- 1, 2, … per scan, in the order the runs were recorded.
  version integer NOT NULL CHECK (version >= 1),
  model_name text NOT NULL,
  model_version text NOT NULL,
  -- Every label: [{ id, display, probability, threshold, positive }].
  labels jsonb NOT NULL,
  -- The thresholds this run used: { labels: { id: t }, uncertain, high }.
  thresholds jsonb NOT NULL,
  -- Null reads "No finding" (no label reached its threshold).
  top_finding jsonb,
  confidence real NOT NULL CHECK (confidence >= 0 AND confidence <= 1),
  uncertain boolean NOT NULL,
  priority text NOT NULL CHECK (priority IN ('HIGH', 'ROUTINE')),
  priority_score real NOT NULL CHECK (priority_score >= 0 AND priority_score <= 1),
  -- Encrypted blobs by the SHA-256 of their plaintext: the grey Grad-CAM map and the colour overlay.
  heatmap_label text,
  heatmap_sha256 text CHECK (heatmap_sha256 ~ '^[0-9a-f]{64}$'),
  overlay_sha256 text CHECK (overlay_sha256 ~ '^[0-9a-f]{64}$'),
  heatmap_method text CHECK (heatmap_method IN ('gradcam', 'occlusion')),
  -- L2-normalised image embedding (SPEC M6), a plain real[] as on scans (PGlite has no pgvector).
  embedding real[],
  -- Milliseconds per stage: decode, preprocess, infer, explain, encode, store.
  timings jsonb,
  -- The doctor who asked for a re-run; null for the automatic pre-read.
  requested_by uuid REFERENCES users(id),
  created_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (scan_id, version)
);

ALTER TABLE scans ADD COLUMN analysis_id uuid REFERENCES analyses(id);

-- The urgent-case alert looks up, per scan, whether a doctor opened it and whether it was raised.
CREATE INDEX audit_events_resource ON audit_events (resource_id, action);

-- The same visibility as the scan itself: a subquery on scans applies the scans policy (patients see
-- their own, unverified clinicians nothing).
ALTER TABLE analyses ENABLE ROW LEVEL SECURITY;
CREATE POLICY org_rows ON analyses
  USING (org_id = app_org() AND EXISTS (SELECT 1 FROM scans s WHERE s.id = scan_id))
  WITH CHECK (org_id = app_org());
-- Append-only for the request role: results are versioned, never rewritten.
GRANT SELECT, INSERT ON analyses TO scanflow_app;
