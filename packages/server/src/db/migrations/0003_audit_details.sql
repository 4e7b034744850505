-- Identifiers an audit event carries beyond its resource: content hashes (a scan's SHA-256, a
-- report's hash), model versions, counters. Never personal data. The tamper-evident log
-- (SPEC L1) copies these into the leaf's `extra`, so a scan's or a report's hash is in the tree.
ALTER TABLE audit_events ADD COLUMN details jsonb;
