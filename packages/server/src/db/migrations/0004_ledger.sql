-- The tamper-evident log (SPEC L1–L4): one RFC 9162 Merkle-tree log per organisation, plus one
-- 'system' log for events with no organisation (a failed sign-in for an unknown e-mail address).
-- A log's id is its organisation's uuid as text, or 'system'.
--
-- Every table here is append-only: triggers refuse UPDATE, DELETE and TRUNCATE, and the request
-- role scanflow_app may only read (and, for alerts, insert). None of that is the security
-- argument: `scanflow ledger verify` recomputes the tree from the entries' bytes and checks every
-- signed checkpoint, so a database owner who disables the triggers is still caught.

-- Ed25519 keys: a log key per log ('log:<log id>') and a node's witness key ('witness:<name>').
-- The 32-byte seed is encrypted with a key derived from the master key (storage/keys.ts).
CREATE TABLE ledger_keys (
  id text PRIMARY KEY,
  kind text NOT NULL CHECK (kind IN ('log', 'witness')),
  key_name text NOT NULL,
  public_key bytea NOT NULL CHECK (length(public_key) = 32),
  seed_enc bytea NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);

-- The leaves. `entry` is the canonical serialisation (packages/ledger README) that the leaf hash
-- covers; `leaf_hash` = SHA-256(0x00 || entry) is kept for auditors, never trusted by the verifier.
CREATE TABLE ledger_entries (
  log_id text NOT NULL,
  leaf_index bigint NOT NULL CHECK (leaf_index >= 0),
  audit_seq bigint NOT NULL UNIQUE,
  entry bytea NOT NULL,
  leaf_hash bytea NOT NULL CHECK (length(leaf_hash) = 32),
  -- For the report-verification lookup: the `sha256` a leaf's details carried, if any.
  content_sha256 text CHECK (content_sha256 ~ '^[0-9a-f]{64}$'),
  verification_code text,
  sequenced_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (log_id, leaf_index)
);
CREATE INDEX ledger_entries_content ON ledger_entries (content_sha256) WHERE content_sha256 IS NOT NULL;
CREATE INDEX ledger_entries_code ON ledger_entries (verification_code) WHERE verification_code IS NOT NULL;

-- Signed checkpoints (c2sp.org/tlog-checkpoint), as the exact signed note the log produced.
CREATE TABLE ledger_checkpoints (
  log_id text NOT NULL,
  size bigint NOT NULL CHECK (size >= 0),
  root_hash bytea NOT NULL CHECK (length(root_hash) = 32),
  note text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (log_id, size)
);

-- Witness cosignatures (c2sp.org/tlog-cosignature) on this node's checkpoints: the signature line.
CREATE TABLE ledger_cosignatures (
  log_id text NOT NULL,
  size bigint NOT NULL,
  witness_name text NOT NULL,
  signature_line text NOT NULL,
  cosigned_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (log_id, size, witness_name),
  FOREIGN KEY (log_id, size) REFERENCES ledger_checkpoints (log_id, size)
);

-- This node as a witness: the logs it follows (their verifier keys; the key name is the origin)
-- and every checkpoint it cosigned. The latest row per origin is the witness's state; an
-- append-only history is also the evidence a witness can show later.
CREATE TABLE witness_logs (
  origin text PRIMARY KEY,
  verifier_key text NOT NULL,
  added_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE witness_checkpoints (
  origin text NOT NULL REFERENCES witness_logs (origin),
  size bigint NOT NULL CHECK (size >= 0),
  root_hash bytea NOT NULL CHECK (length(root_hash) = 32),
  note text NOT NULL,
  cosigned_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (origin, size)
);

-- Alerts an administrator must see: a scan whose bytes failed their hash (org set), a witness
-- that saw a split view (node-wide: org null). Identifiers and signed evidence only.
CREATE TABLE alerts (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  org_id uuid REFERENCES organisations (id),
  kind text NOT NULL,
  resource_type text,
  resource_id text,
  details jsonb,
  evidence text,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX alerts_org ON alerts (org_id, created_at DESC);

-- A scan whose image failed its integrity check waits for a second opinion (SPEC L3): the
-- doctors' worklist can show `second_opinion_since IS NOT NULL`.
ALTER TABLE scans ADD COLUMN second_opinion_since timestamptz;
CREATE INDEX scans_second_opinion ON scans (org_id, second_opinion_since) WHERE second_opinion_since IS NOT NULL;

-- Intrusion signals are read by client address and by hour.
CREATE INDEX audit_events_org_outcome ON audit_events (org_id, outcome, at DESC);

CREATE OR REPLACE FUNCTION refuse_ledger_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION '% is append-only', TG_TABLE_NAME;
END
$$;
DO $$
DECLARE t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['ledger_keys', 'ledger_entries', 'ledger_checkpoints', 'ledger_cosignatures',
                           'witness_logs', 'witness_checkpoints', 'alerts'] LOOP
    EXECUTE format('CREATE TRIGGER %I BEFORE UPDATE OR DELETE ON %I FOR EACH ROW EXECUTE FUNCTION refuse_ledger_change()',
                   t || '_append_only', t);
    EXECUTE format('CREATE TRIGGER %I BEFORE TRUNCATE ON %I FOR EACH STATEMENT EXECUTE FUNCTION refuse_ledger_change()',
                   t || '_no_truncate', t);
  END LOOP;
END
$$;
CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events
  FOR EACH STATEMENT EXECUTE FUNCTION refuse_ledger_change();

-- An organisation's administrators read their own log; the sequencer and the checkpointer write
-- as the system (withSystem). Keys and witness state are never visible to request transactions.
ALTER TABLE ledger_entries ENABLE ROW LEVEL SECURITY;
ALTER TABLE ledger_checkpoints ENABLE ROW LEVEL SECURITY;
ALTER TABLE ledger_cosignatures ENABLE ROW LEVEL SECURITY;
ALTER TABLE alerts ENABLE ROW LEVEL SECURITY;
ALTER TABLE ledger_keys ENABLE ROW LEVEL SECURITY;
ALTER TABLE witness_logs ENABLE ROW LEVEL SECURITY;
ALTER TABLE witness_checkpoints ENABLE ROW LEVEL SECURITY;
CREATE POLICY org_log ON ledger_entries USING (log_id = app_org()::text);
CREATE POLICY org_log ON ledger_checkpoints USING (log_id = app_org()::text);
CREATE POLICY org_log ON ledger_cosignatures USING (log_id = app_org()::text);
-- Node-wide alerts (org_id null: a witness's split view) are shown to every organisation's admins.
CREATE POLICY org_rows ON alerts USING (org_id = app_org() OR org_id IS NULL) WITH CHECK (org_id = app_org());

GRANT SELECT ON ledger_entries, ledger_checkpoints, ledger_cosignatures TO scanflow_app;
GRANT SELECT, INSERT ON alerts TO scanflow_app;

-- SPEC L3: the moment a scan is flagged (integrity → 'mismatch', by whichever path read its bytes)
-- it joins the second-opinion queue and an administrator's alert is raised, in the same
-- transaction as the flag and its audit event. A trigger, so no reading path can forget either.
CREATE OR REPLACE FUNCTION scan_integrity_flagged() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.integrity = 'mismatch' AND OLD.integrity IS DISTINCT FROM 'mismatch' THEN
    NEW.second_opinion_since := COALESCE(NEW.second_opinion_since, now());
    INSERT INTO alerts (org_id, kind, resource_type, resource_id, details)
      VALUES (NEW.org_id, 'scan.integrity_mismatch', 'scan', NEW.id::text,
              jsonb_build_object('sha256', NEW.blob_sha256));
  END IF;
  RETURN NEW;
END
$$;
CREATE TRIGGER scans_integrity_flagged BEFORE UPDATE OF integrity ON scans
  FOR EACH ROW EXECUTE FUNCTION scan_integrity_flagged();
