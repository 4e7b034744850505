-- Durable background jobs (the AI pre-read first) and per-scan AI artefacts.
--
-- A job is claimed with FOR UPDATE SKIP LOCKED, so several worker processes sharing one database
-- each take different jobs, and a job whose worker died is taken again after its lease expires.

CREATE TABLE jobs (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  org_id uuid NOT NULL REFERENCES organisations(id),
  kind text NOT NULL,
  -- Identifiers only (a scan id): never personal data.
  payload jsonb NOT NULL,
  status text NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'running', 'done', 'failed')),
  attempts integer NOT NULL DEFAULT 0,
  max_attempts integer NOT NULL DEFAULT 5,
  run_after timestamptz NOT NULL DEFAULT now(),
  lease_until timestamptz,
  last_error text,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX jobs_ready ON jobs (run_after, created_at) WHERE status IN ('queued', 'running');

-- The image embedding of each analysed scan (SPEC M6), portable: a plain real[] rather than an
-- extension type, so PGlite and PostgreSQL servers without pgvector hold the same data.
ALTER TABLE scans ADD COLUMN embedding real[];
ALTER TABLE scans ADD COLUMN heatmap_sha256 text CHECK (heatmap_sha256 ~ '^[0-9a-f]{64}$');

ALTER TABLE jobs ENABLE ROW LEVEL SECURITY;
CREATE POLICY org_rows ON jobs USING (org_id = app_org()) WITH CHECK (org_id = app_org());
GRANT SELECT, INSERT ON jobs TO scanflow_app;
