-- Scanflow foundation schema. Runs unchanged on PGlite and on PostgreSQL 15+.
--
-- Separation between organisations is enforced by row-level security: the application's request
-- transactions run as the non-superuser role scanflow_app with app.org / app.user / app.role set
-- (a superuser bypasses RLS, so the role switch is what makes the policies bite). Personal data
-- (names, e-mail, dates of birth, clinical free text) is stored encrypted by the application
-- (columns ending in _enc); e-mail and patient IDs are found by keyed hashes (_lookup).

DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'scanflow_app') THEN
    CREATE ROLE scanflow_app NOLOGIN;
  END IF;
END
$$;

CREATE OR REPLACE FUNCTION app_org() RETURNS uuid LANGUAGE sql STABLE AS
  $$ SELECT NULLIF(current_setting('app.org', true), '')::uuid $$;
CREATE OR REPLACE FUNCTION app_user() RETURNS uuid LANGUAGE sql STABLE AS
  $$ SELECT NULLIF(current_setting('app.user', true), '')::uuid $$;
CREATE OR REPLACE FUNCTION app_role() RETURNS text LANGUAGE sql STABLE AS
  $$ SELECT COALESCE(NULLIF(current_setting('app.role', true), ''), 'none') $$;

CREATE TABLE organisations (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  slug text NOT NULL UNIQUE CHECK (slug ~ '^[a-z0-9][a-z0-9-]{1,62}$'),
  name text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE users (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  org_id uuid NOT NULL REFERENCES organisations(id),
  email_lookup bytea NOT NULL UNIQUE,
  email_enc bytea NOT NULL,
  name_enc bytea NOT NULL,
  role text NOT NULL CHECK (role IN ('patient', 'doctor', 'pharmacist', 'admin')),
  password_hash text NOT NULL,
  status text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'disabled')),
  licence_number_enc bytea,
  licence_jurisdiction text,
  clinician_verified_at timestamptz,
  clinician_verified_by uuid REFERENCES users(id),
  totp_secret_enc bytea,
  totp_enabled_at timestamptz,
  totp_last_step bigint,
  failed_logins integer NOT NULL DEFAULT 0,
  locked_until timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX users_org_role ON users (org_id, role, created_at);

CREATE TABLE patients (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  org_id uuid NOT NULL REFERENCES organisations(id),
  user_id uuid UNIQUE REFERENCES users(id),
  -- The hospital's Patient ID (DICOM 0010,0020), found by keyed hash within the organisation.
  mrn_lookup bytea,
  mrn_enc bytea,
  name_enc bytea,
  birth_date_enc bytea,
  sex_enc bytea,
  created_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (org_id, mrn_lookup)
);

CREATE TABLE scans (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  org_id uuid NOT NULL REFERENCES organisations(id),
  patient_id uuid NOT NULL REFERENCES patients(id),
  -- Denormalised from patients so that RLS can restrict patients to their own scans cheaply.
  patient_user_id uuid REFERENCES users(id),
  uploaded_by uuid REFERENCES users(id),
  source text NOT NULL CHECK (source IN ('upload', 'dicom', 'dicomweb')),
  status text NOT NULL DEFAULT 'PENDING_AI'
    CHECK (status IN ('PENDING_AI', 'AI_ANALYZED', 'DOCTOR_VERIFIED', 'PHARMACIST_COMPLETED', 'REPORT_READY')),
  version integer NOT NULL DEFAULT 1,
  priority text CHECK (priority IN ('HIGH', 'ROUTINE')),
  -- 0 for HIGH, 1 otherwise: the worklist's first sort key, indexable.
  priority_rank smallint NOT NULL DEFAULT 1,
  priority_score real,
  blob_sha256 text NOT NULL CHECK (blob_sha256 ~ '^[0-9a-f]{64}$'),
  byte_size bigint NOT NULL,
  media_type text NOT NULL,
  format text NOT NULL CHECK (format IN ('dicom', 'png', 'jpeg', 'tiff')),
  width integer NOT NULL,
  height integer NOT NULL,
  frames integer NOT NULL DEFAULT 1,
  original_name_enc bytea,
  -- Non-personal DICOM identifiers and descriptors (UIDs, modality, body part, view).
  dicom jsonb,
  sop_instance_uid text,
  ai_result jsonb,
  ai_recorded_at timestamptz,
  findings_enc bytea,
  prescription_enc bytea,
  integrity text NOT NULL DEFAULT 'ok' CHECK (integrity IN ('ok', 'mismatch')),
  received_at timestamptz NOT NULL DEFAULT now(),
  -- When the scan entered its current status: how long it has waited in the current queue.
  status_since timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
-- The worklists: a status queue ordered by priority, then waiting time.
CREATE INDEX scans_worklist ON scans (org_id, status, priority_rank, status_since, id);
CREATE INDEX scans_patient ON scans (org_id, patient_user_id, received_at DESC);
CREATE INDEX scans_patient_record ON scans (patient_id, received_at DESC);
CREATE UNIQUE INDEX scans_sop_instance ON scans (org_id, sop_instance_uid) WHERE sop_instance_uid IS NOT NULL;

CREATE TABLE scan_events (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  org_id uuid NOT NULL REFERENCES organisations(id),
  scan_id uuid NOT NULL REFERENCES scans(id),
  action text NOT NULL,
  from_status text,
  to_status text NOT NULL,
  actor_user_id uuid REFERENCES users(id),
  actor_role text,
  notes_enc bytea,
  at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX scan_events_scan ON scan_events (scan_id, at);

-- A session is one sign-in: the family of its rotating refresh tokens.
CREATE TABLE sessions (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  org_id uuid NOT NULL REFERENCES organisations(id),
  user_id uuid NOT NULL REFERENCES users(id),
  mfa boolean NOT NULL DEFAULT false,
  created_at timestamptz NOT NULL DEFAULT now(),
  last_seen_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz NOT NULL,
  revoked_at timestamptz,
  revoked_reason text
);
CREATE INDEX sessions_user ON sessions (user_id) WHERE revoked_at IS NULL;

CREATE TABLE refresh_tokens (
  token_hash bytea PRIMARY KEY,
  session_id uuid NOT NULL REFERENCES sessions(id),
  created_at timestamptz NOT NULL DEFAULT now(),
  used_at timestamptz
);
CREATE INDEX refresh_tokens_session ON refresh_tokens (session_id);

CREATE TABLE email_codes (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  user_id uuid NOT NULL REFERENCES users(id),
  code_hash bytea NOT NULL,
  expires_at timestamptz NOT NULL,
  attempts integer NOT NULL DEFAULT 0,
  used_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX email_codes_user ON email_codes (user_id, created_at DESC);

-- Mail waiting for (or instead of) an SMTP server. Recipient and body are personal data.
CREATE TABLE outbox (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  org_id uuid NOT NULL REFERENCES organisations(id),
  kind text NOT NULL,
  to_enc bytea NOT NULL,
  subject text NOT NULL,
  body_enc bytea NOT NULL,
  status text NOT NULL DEFAULT 'queued',
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX outbox_org ON outbox (org_id, created_at DESC);

-- Every access and action. Identifiers only; the client address is kept because an audit trail
-- must say from where. Append-only: see the triggers below.
CREATE TABLE audit_events (
  seq bigserial PRIMARY KEY,
  id uuid NOT NULL UNIQUE DEFAULT gen_random_uuid(),
  org_id uuid REFERENCES organisations(id),
  at timestamptz NOT NULL DEFAULT now(),
  actor_user_id uuid,
  actor_role text,
  action text NOT NULL,
  resource_type text,
  resource_id text,
  outcome text NOT NULL CHECK (outcome IN ('success', 'denied', 'failure')),
  client_address text,
  reason text
);
CREATE INDEX audit_events_org_at ON audit_events (org_id, at DESC);

CREATE OR REPLACE FUNCTION refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'audit_events is append-only';
END
$$;
CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON audit_events
  FOR EACH ROW EXECUTE FUNCTION refuse_change();

-- Row-level security: each organisation sees only its own rows.
ALTER TABLE organisations ENABLE ROW LEVEL SECURITY;
ALTER TABLE users ENABLE ROW LEVEL SECURITY;
ALTER TABLE patients ENABLE ROW LEVEL SECURITY;
ALTER TABLE scans ENABLE ROW LEVEL SECURITY;
ALTER TABLE scan_events ENABLE ROW LEVEL SECURITY;
ALTER TABLE outbox ENABLE ROW LEVEL SECURITY;
ALTER TABLE audit_events ENABLE ROW LEVEL SECURITY;

CREATE POLICY org_self ON organisations USING (id = app_org());
CREATE POLICY org_rows ON users USING (org_id = app_org()) WITH CHECK (org_id = app_org());
CREATE POLICY org_rows ON outbox USING (org_id = app_org()) WITH CHECK (org_id = app_org());
CREATE POLICY org_rows ON audit_events USING (org_id = app_org()) WITH CHECK (org_id = app_org());
-- Patients see their own record and scans only; unverified clinicians (app.role 'unverified')
-- see no clinical rows at all. The policy module says the same; this is the floor beneath it.
CREATE POLICY org_rows ON patients
  USING (org_id = app_org() AND app_role() IN ('doctor', 'pharmacist', 'admin', 'patient', 'system')
         AND (app_role() <> 'patient' OR user_id = app_user()))
  WITH CHECK (org_id = app_org());
CREATE POLICY org_rows ON scans
  USING (org_id = app_org() AND app_role() IN ('doctor', 'pharmacist', 'admin', 'patient', 'system')
         AND (app_role() <> 'patient' OR patient_user_id = app_user()))
  WITH CHECK (org_id = app_org());
CREATE POLICY org_rows ON scan_events
  USING (org_id = app_org() AND EXISTS (SELECT 1 FROM scans s WHERE s.id = scan_id))
  WITH CHECK (org_id = app_org());

-- Least privilege for request transactions: no DELETE anywhere, no UPDATE of the audit trail,
-- nothing at all on credentials (sessions, refresh tokens, e-mail codes: the auth service's own).
GRANT USAGE ON SCHEMA public TO scanflow_app;
GRANT SELECT ON organisations TO scanflow_app;
GRANT SELECT, UPDATE (status, clinician_verified_at, clinician_verified_by, totp_secret_enc, totp_enabled_at,
  totp_last_step, failed_logins, locked_until, updated_at) ON users TO scanflow_app;
GRANT SELECT, INSERT ON users TO scanflow_app;
GRANT SELECT, INSERT, UPDATE ON patients TO scanflow_app;
GRANT SELECT, INSERT, UPDATE ON scans TO scanflow_app;
GRANT SELECT, INSERT ON scan_events TO scanflow_app;
GRANT SELECT, INSERT ON outbox TO scanflow_app;
GRANT SELECT, INSERT ON audit_events TO scanflow_app;
GRANT USAGE ON SEQUENCE audit_events_seq_seq TO scanflow_app;
