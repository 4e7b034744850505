/**
 * The case a discussion belongs to: looked up in the session's scope (row-level security), then
 * the policy asked for the discussion action. Shared by chat, second opinions and annotations.
 */
import { decide, notFound, type Action, type Resource } from '@scanflow/domain';
import type { Queryable } from '../db/database.ts';
import { findScan, type ScanRow } from '../repositories/scans.ts';
import { enforce } from './access.ts';
import type { AuthenticatedSession } from './auth-service.ts';

export const caseResource = (scan: { org_id: string; patient_user_id: string | null; status: ScanRow['status'] }) =>
  ({
    kind: 'scan',
    orgId: scan.org_id,
    patientUserId: scan.patient_user_id,
    status: scan.status,
  }) satisfies Resource;

/** The case, if the session may perform `action` on its discussion (else 403/404 with the policy's reason). */
export async function openCase(
  tx: Queryable,
  session: AuthenticatedSession,
  scanId: string,
  action: Action,
): Promise<ScanRow> {
  const scan = await findScan(tx, scanId);
  if (!scan) throw notFound('Scan');
  enforce(decide(session.actor, action, caseResource(scan)), 'Scan');
  return scan;
}
