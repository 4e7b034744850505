-- The DICOM listener (SPEC I3): each organisation lists the calling AE titles it accepts C-STOREs
-- from, optionally only from given addresses. An association's calling AE title picks the
-- organisation, so a title belongs to at most one organisation at a time. Peers are retired, not
-- deleted (the app role has DELETE nowhere), so the audit trail's peer ids keep their meaning.
--
-- The SOP-instance uniqueness a resend relies on is scans_sop_instance (0001): one instance per
-- organisation.

CREATE TABLE dicom_peers (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  org_id uuid NOT NULL REFERENCES organisations(id),
  -- PS3.5 6.2 AE: 1 to 16 characters of the default repertoire, no backslash or control
  -- characters; stored without padding. Leading/trailing spaces are not significant.
  ae_title text NOT NULL CHECK (ae_title ~ '^[!-\[\]-~]([ -\[\]-~]{0,14}[!-\[\]-~])?$'),
  -- Client addresses (IPv4 or IPv6 text, as the socket reports them); empty: any address.
  addresses text[] NOT NULL DEFAULT '{}' CHECK (cardinality(addresses) <= 32),
  description text CHECK (length(description) <= 200),
  created_at timestamptz NOT NULL DEFAULT now(),
  created_by uuid REFERENCES users(id),
  removed_at timestamptz,
  removed_by uuid REFERENCES users(id)
);
CREATE UNIQUE INDEX dicom_peers_active_ae ON dicom_peers (ae_title) WHERE removed_at IS NULL;
CREATE INDEX dicom_peers_org ON dicom_peers (org_id, created_at);

ALTER TABLE dicom_peers ENABLE ROW LEVEL SECURITY;
-- Administrators manage their organisation's peers; the listener itself reads them as the system.
CREATE POLICY org_rows ON dicom_peers
  USING (org_id = app_org() AND app_role() IN ('admin', 'system'))
  WITH CHECK (org_id = app_org() AND app_role() IN ('admin', 'system'));
GRANT SELECT, INSERT ON dicom_peers TO scanflow_app;
GRANT UPDATE (removed_at, removed_by) ON dicom_peers TO scanflow_app;
