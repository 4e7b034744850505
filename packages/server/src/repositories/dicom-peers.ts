/** SQL for the DICOM peers (calling AE titles) organisations accept; see migration 0005. */
import type { Queryable } from '../db/database.ts';

export interface DicomPeer {
  id: string;
  orgId: string;
  aeTitle: string;
  /** Client addresses the title is accepted from; empty: any. */
  addresses: string[];
  description: string | null;
  createdAt: string;
}

interface PeerRow {
  id: string;
  org_id: string;
  ae_title: string;
  addresses: string[];
  description: string | null;
  created_at: Date;
}

const COLUMNS = 'id, org_id, ae_title, addresses, description, created_at';

const toPeer = (row: PeerRow): DicomPeer => ({
  id: row.id,
  orgId: row.org_id,
  aeTitle: row.ae_title,
  addresses: row.addresses,
  description: row.description,
  createdAt: row.created_at.toISOString(),
});

/** The organisation's current peer holding this calling AE title, if any (a title belongs to one). */
export async function findActivePeer(tx: Queryable, aeTitle: string): Promise<DicomPeer | null> {
  const { rows } = await tx.query<PeerRow>(
    `SELECT ${COLUMNS} FROM dicom_peers WHERE ae_title = $1 AND removed_at IS NULL`,
    [aeTitle],
  );
  return rows[0] ? toPeer(rows[0]) : null;
}

export async function listActivePeers(tx: Queryable): Promise<DicomPeer[]> {
  const { rows } = await tx.query<PeerRow>(
    `SELECT ${COLUMNS} FROM dicom_peers WHERE removed_at IS NULL ORDER BY ae_title`,
  );
  return rows.map(toPeer);
}

export async function insertPeer(
  tx: Queryable,
  peer: { orgId: string; aeTitle: string; addresses: string[]; description: string | null; createdBy: string | null },
): Promise<DicomPeer> {
  const { rows } = await tx.query<PeerRow>(
    `INSERT INTO dicom_peers (org_id, ae_title, addresses, description, created_by)
     VALUES ($1, $2, $3, $4, $5) RETURNING ${COLUMNS}`,
    [peer.orgId, peer.aeTitle, peer.addresses, peer.description, peer.createdBy],
  );
  return toPeer(rows[0]!);
}

/** Retires a peer (rows are kept for the audit trail); false if there was no such active peer. */
export async function retirePeer(tx: Queryable, id: string, removedBy: string | null): Promise<boolean> {
  const result = await tx.query(
    'UPDATE dicom_peers SET removed_at = now(), removed_by = $2 WHERE id = $1 AND removed_at IS NULL',
    [id, removedBy],
  );
  return result.rowCount === 1;
}
