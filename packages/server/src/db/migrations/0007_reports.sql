-- Reports (SPEC R1) and their delivery to patients (R2).
--
-- A report is generated once a case reaches REPORT_READY. Its PDF is an encrypted blob addressed
-- by its SHA-256 (the report hash, which the audit trail and so the ledger record); everything
-- needed to render the same bytes again is kept with it: the report model (encrypted: it names
-- the patient), the display image and heatmap as blobs, the page size and the renderer version.

CREATE TABLE reports (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  org_id uuid NOT NULL REFERENCES organisations(id),
  scan_id uuid NOT NULL REFERENCES scans(id),
  -- Denormalised from scans, as there, so that RLS restricts patients to their own reports cheaply.
  patient_user_id uuid REFERENCES users(id),
  version integer NOT NULL DEFAULT 1,
  pdf_sha256 text NOT NULL CHECK (pdf_sha256 ~ '^[0-9a-f]{64}$'),
  pdf_bytes integer NOT NULL,
  -- Short, unguessable enough for a rate-limited lookup, and easy to type from paper.
  verification_code text NOT NULL UNIQUE CHECK (verification_code ~ '^[0-9A-Z]{5}-[0-9A-Z]{5}$'),
  -- The approval time: the PDF's creation date and document ID derive from it.
  issued_at timestamptz NOT NULL,
  generated_at timestamptz NOT NULL DEFAULT now(),
  page_size text NOT NULL CHECK (page_size IN ('A4', 'LETTER')),
  renderer text NOT NULL,
  model_enc bytea NOT NULL,
  image_sha256 text CHECK (image_sha256 ~ '^[0-9a-f]{64}$'),
  heatmap_sha256 text CHECK (heatmap_sha256 ~ '^[0-9a-f]{64}$'),
  UNIQUE (scan_id, version)
);
CREATE INDEX reports_pdf_sha256 ON reports (pdf_sha256);

-- One row per attempt to get a report to a person. The recipient is personal data: encrypted,
-- and found by keyed hash.
CREATE TABLE deliveries (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  org_id uuid NOT NULL REFERENCES organisations(id),
  report_id uuid NOT NULL REFERENCES reports(id),
  scan_id uuid NOT NULL REFERENCES scans(id),
  patient_user_id uuid REFERENCES users(id),
  -- email: over SMTP; outbox: no SMTP server configured, kept for the admins to read.
  channel text NOT NULL CHECK (channel IN ('email', 'outbox')),
  recipient_lookup bytea NOT NULL,
  recipient_enc bytea NOT NULL,
  status text NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'sent', 'failed')),
  reason text,
  attempts integer NOT NULL DEFAULT 0,
  message_id text,
  outbox_id uuid REFERENCES outbox(id),
  queued_at timestamptz NOT NULL DEFAULT now(),
  last_attempt_at timestamptz,
  sent_at timestamptz,
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX deliveries_scan ON deliveries (scan_id, queued_at);

-- Mail kept in the outbox may carry an attachment (an encrypted blob; the PDF inside is itself
-- password-protected).
ALTER TABLE outbox ADD COLUMN attachment_sha256 text CHECK (attachment_sha256 ~ '^[0-9a-f]{64}$');
ALTER TABLE outbox ADD COLUMN attachment_name text;
ALTER TABLE outbox ADD COLUMN attachment_type text;

-- A patient may choose the password that opens e-mailed reports instead of their date of birth.
ALTER TABLE patients ADD COLUMN delivery_code_enc bytea;

ALTER TABLE reports ENABLE ROW LEVEL SECURITY;
ALTER TABLE deliveries ENABLE ROW LEVEL SECURITY;
-- Same floor as scans: restricted actors see nothing, patients only their own.
CREATE POLICY org_rows ON reports
  USING (org_id = app_org() AND app_role() IN ('doctor', 'pharmacist', 'admin', 'patient', 'system')
         AND (app_role() <> 'patient' OR patient_user_id = app_user()))
  WITH CHECK (org_id = app_org() AND app_role() = 'system');
CREATE POLICY org_rows ON deliveries
  USING (org_id = app_org() AND app_role() IN ('doctor', 'pharmacist', 'admin', 'patient', 'system')
         AND (app_role() <> 'patient' OR patient_user_id = app_user()))
  WITH CHECK (org_id = app_org() AND app_role() = 'system');

-- Reports are written once and never changed; deliveries change only their progress columns.
GRANT SELECT, INSERT ON reports TO scanflow_app;
GRANT SELECT, INSERT ON deliveries TO scanflow_app;
GRANT UPDATE (status, reason, attempts, message_id, outbox_id, last_attempt_at, sent_at, updated_at)
  ON deliveries TO scanflow_app;
-- The outbox's sender records whether a message went out over SMTP.
GRANT UPDATE (status) ON outbox TO scanflow_app;
