-- Case discussion (chat, second opinions, shared annotations) and the live channel's event log.
--
-- Clinical text (messages, notes, labels) is encrypted by the application (_enc columns). Nothing
-- is ever deleted by the application role: an annotation is withdrawn with its `deleted` flag, and
-- the live-event log is pruned by the system (retention), not by requests.

CREATE TABLE case_messages (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  org_id uuid NOT NULL REFERENCES organisations(id),
  scan_id uuid NOT NULL REFERENCES scans(id),
  author_user_id uuid NOT NULL REFERENCES users(id),
  author_role text NOT NULL,
  body_enc bytea NOT NULL,
  -- Set when the message was written as the answer to a second-opinion request.
  second_opinion_id uuid,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX case_messages_scan ON case_messages (scan_id, created_at, id);

CREATE TABLE second_opinions (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  org_id uuid NOT NULL REFERENCES organisations(id),
  scan_id uuid NOT NULL REFERENCES scans(id),
  requested_by uuid NOT NULL REFERENCES users(id),
  requested_of uuid NOT NULL REFERENCES users(id),
  status text NOT NULL DEFAULT 'requested' CHECK (status IN ('requested', 'answered', 'declined')),
  note_enc bytea,
  response_enc bytea,
  created_at timestamptz NOT NULL DEFAULT now(),
  responded_at timestamptz,
  CHECK (requested_by <> requested_of)
);
CREATE INDEX second_opinions_assigned ON second_opinions (org_id, requested_of, status, created_at);
CREATE INDEX second_opinions_scan ON second_opinions (scan_id, created_at);

CREATE TABLE annotations (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  org_id uuid NOT NULL REFERENCES organisations(id),
  scan_id uuid NOT NULL REFERENCES scans(id),
  author_user_id uuid NOT NULL REFERENCES users(id),
  kind text NOT NULL CHECK (kind IN ('arrow', 'ellipse', 'length')),
  -- Image pixel coordinates (validated by the domain: finite, inside the image).
  geometry jsonb NOT NULL,
  frame integer NOT NULL DEFAULT 0 CHECK (frame >= 0),
  label_enc bytea,
  version integer NOT NULL DEFAULT 1,
  deleted boolean NOT NULL DEFAULT false,
  updated_by uuid REFERENCES users(id),
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX annotations_scan ON annotations (scan_id, created_at) WHERE NOT deleted;

-- The live channel's log, written only by the triggers below (SECURITY DEFINER: request
-- transactions need no privilege on it, and no code path can forget to publish). Ids come from one
-- counter row taken by a trigger deferred to commit time: the row lock makes ids gap-free and in
-- commit order, so "everything after id N" is exact for a resuming client and for a process
-- catching up after a NOTIFY (whose payload is the id only). `data` holds identifiers only, like
-- the audit trail; the live hub loads and decrypts a message's or annotation's text itself.
CREATE TABLE live_event_counter (
  singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
  last_id bigint NOT NULL
);
INSERT INTO live_event_counter (singleton, last_id) VALUES (true, 0);

CREATE TABLE live_events (
  id bigint PRIMARY KEY,
  org_id uuid NOT NULL REFERENCES organisations(id),
  kind text NOT NULL,
  data jsonb NOT NULL,
  at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX live_events_at ON live_events (at);

CREATE OR REPLACE FUNCTION live_append(p_org uuid, p_kind text, p_data jsonb) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
DECLARE
  next_id bigint;
BEGIN
  UPDATE live_event_counter SET last_id = last_id + 1 RETURNING last_id INTO next_id;
  INSERT INTO live_events (id, org_id, kind, data) VALUES (next_id, p_org, p_kind, p_data);
  PERFORM pg_notify('scanflow_live', next_id::text);
END
$$;
REVOKE ALL ON FUNCTION live_append(uuid, text, jsonb) FROM PUBLIC;

-- A scan's status as it is at commit (a transaction may move it more than once; the deferred
-- trigger sees each row version, and each change is an event). HIGH cases reaching the doctors'
-- queue are also announced as urgent.
CREATE OR REPLACE FUNCTION live_scan_changed() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
BEGIN
  PERFORM live_append(NEW.org_id, 'scan.status', jsonb_build_object(
    'scanId', NEW.id, 'status', NEW.status,
    'previousStatus', CASE WHEN TG_OP = 'UPDATE' THEN OLD.status END,
    'version', NEW.version, 'priority', NEW.priority, 'patientUserId', NEW.patient_user_id));
  -- Urgent once per arrival: a re-run that keeps a case HIGH is a change, not a new urgent case.
  IF NEW.status = 'AI_ANALYZED' AND NEW.priority = 'HIGH'
     AND (TG_OP = 'INSERT' OR OLD.status IS DISTINCT FROM NEW.status OR OLD.priority IS DISTINCT FROM NEW.priority) THEN
    PERFORM live_append(NEW.org_id, 'scan.urgent', jsonb_build_object(
      'scanId', NEW.id, 'status', NEW.status, 'version', NEW.version, 'priority', NEW.priority,
      'patientUserId', NEW.patient_user_id));
  END IF;
  RETURN NULL;
END
$$;

-- Discussion rows: the event names the row and its case (with the case's patient and status,
-- which the policy needs to decide who may receive it).
CREATE OR REPLACE FUNCTION live_discussion_changed() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
DECLARE
  scan record;
  extra jsonb;
BEGIN
  SELECT s.status, s.patient_user_id INTO scan FROM scans s WHERE s.id = NEW.scan_id;
  extra := CASE TG_TABLE_NAME
    WHEN 'case_messages' THEN jsonb_build_object('messageId', NEW.id)
    WHEN 'annotations' THEN jsonb_build_object('annotationId', NEW.id)
    ELSE jsonb_build_object('requestId', NEW.id)
  END;
  PERFORM live_append(NEW.org_id, TG_ARGV[0], extra || jsonb_build_object(
    'scanId', NEW.scan_id, 'status', scan.status, 'patientUserId', scan.patient_user_id));
  RETURN NULL;
END
$$;

CREATE CONSTRAINT TRIGGER live_scan_inserted AFTER INSERT ON scans
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION live_scan_changed();
CREATE CONSTRAINT TRIGGER live_scan_status AFTER UPDATE ON scans
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
  -- A re-run of the AI (a new analysis, same status) is announced too, so open case views refresh.
  WHEN (OLD.status IS DISTINCT FROM NEW.status OR OLD.analysis_id IS DISTINCT FROM NEW.analysis_id)
  EXECUTE FUNCTION live_scan_changed();
CREATE CONSTRAINT TRIGGER live_message AFTER INSERT ON case_messages
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION live_discussion_changed('discussion.message');
CREATE CONSTRAINT TRIGGER live_annotation AFTER INSERT OR UPDATE ON annotations
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION live_discussion_changed('annotation.changed');
CREATE CONSTRAINT TRIGGER live_second_opinion AFTER INSERT OR UPDATE ON second_opinions
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION live_discussion_changed('second_opinion.changed');

ALTER TABLE case_messages ENABLE ROW LEVEL SECURITY;
ALTER TABLE second_opinions ENABLE ROW LEVEL SECURITY;
ALTER TABLE annotations ENABLE ROW LEVEL SECURITY;
ALTER TABLE live_event_counter ENABLE ROW LEVEL SECURITY;
ALTER TABLE live_events ENABLE ROW LEVEL SECURITY;

-- The discussion belongs to clinicians: patients and restricted actors see none of it, and a row
-- is visible only with its case (which carries the scans policy).
CREATE POLICY org_rows ON case_messages
  USING (org_id = app_org() AND app_role() IN ('doctor', 'pharmacist', 'system')
         AND EXISTS (SELECT 1 FROM scans s WHERE s.id = scan_id))
  WITH CHECK (org_id = app_org() AND app_role() IN ('doctor', 'pharmacist', 'system'));
CREATE POLICY org_rows ON second_opinions
  USING (org_id = app_org() AND app_role() IN ('doctor', 'pharmacist', 'system')
         AND EXISTS (SELECT 1 FROM scans s WHERE s.id = scan_id))
  WITH CHECK (org_id = app_org() AND app_role() IN ('doctor', 'system'));
CREATE POLICY org_rows ON annotations
  USING (org_id = app_org() AND app_role() IN ('doctor', 'pharmacist', 'system')
         AND EXISTS (SELECT 1 FROM scans s WHERE s.id = scan_id))
  WITH CHECK (org_id = app_org() AND app_role() IN ('doctor', 'system'));
-- No policy on the live tables: the application role has no access to them at all (the triggers'
-- functions own the writes; the live hub reads them as the system).

GRANT SELECT, INSERT ON case_messages TO scanflow_app;
GRANT SELECT, INSERT, UPDATE (status, response_enc, responded_at) ON second_opinions TO scanflow_app;
GRANT SELECT, INSERT, UPDATE (geometry, frame, label_enc, version, deleted, updated_by, updated_at)
  ON annotations TO scanflow_app;

-- A revoked session (sign-out, disabled account, refresh-token reuse) is announced to every process,
-- so that live connections on that session close at once wherever they are. The payload is the
-- session id only.
CREATE OR REPLACE FUNCTION live_session_ended() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('scanflow_session_ended', NEW.id::text);
  RETURN NULL;
END
$$;
CREATE TRIGGER live_session_ended AFTER UPDATE OF revoked_at ON sessions
  FOR EACH ROW WHEN (OLD.revoked_at IS NULL AND NEW.revoked_at IS NOT NULL)
  EXECUTE FUNCTION live_session_ended();
