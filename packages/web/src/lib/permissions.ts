/**
 * What the signed-in user may do with a scan, asked of the same policy the server enforces
 * (`decide` in @scanflow/domain), so the app offers only what will be allowed. The server still
 * decides every request; this only hides controls that would be refused.
 */
import { decide, type Action } from '@scanflow/domain';
import type { ScanSummary, SignedInUser } from '../api/types.ts';

export function can(user: SignedInUser, action: Action, scan: ScanSummary): boolean {
  return decide(
    {
      userId: user.id,
      orgId: user.orgId,
      role: user.role,
      clinicianVerified: user.clinicianVerified,
      mfa: user.totpEnabled,
    },
    action,
    // The patient's own account is not sent to clinicians; for a patient, their own scans are the ones they see.
    { kind: 'scan', orgId: user.orgId, patientUserId: user.role === 'patient' ? user.id : null, status: scan.status },
  ).allow;
}
