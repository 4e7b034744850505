/**
 * The one place that answers "may this user do this to this resource" (SPEC A2). Routes declare
 * the action they perform and ask `decide`; no handler re-implements a rule.
 *
 * Row-level security in the database separates organisations underneath this module, so a
 * forgotten check cannot leak another organisation's rows; this module adds the finer rules
 * (roles, own cases, verified clinicians, second factor for admins).
 *
 * Consent grants (SPEC A5) will arrive as extra facts in `PolicyContext`, so routes stay unchanged.
 */
import { ownerOf, type ScanStatus } from './lifecycle.ts';
import { isClinicianRole, type Role } from './roles.ts';

export interface Actor {
  userId: string;
  orgId: string;
  role: Role;
  /** Doctors and pharmacists: an admin (or a licence service) has verified the licence. */
  clinicianVerified: boolean;
  /** This session passed a second factor (TOTP or e-mail code). */
  mfa: boolean;
}

export type Action =
  | 'scan.list'
  // Scans whose stored bytes failed their hash check (SPEC L3), awaiting a second look.
  | 'scan.integrity_review'
  | 'scan.upload'
  | 'scan.read'
  | 'scan.transition'
  // AI (SPEC M1–M3): re-running a scan's analysis, and reading which model is active and its card.
  | 'scan.reanalyse'
  // A de-identified copy (PS3.15) for research, teaching or an outside opinion (SPEC I4).
  | 'scan.export_deidentified'
  | 'model.read'
  | 'user.list'
  | 'user.verify_clinician'
  | 'user.disable'
  | 'user.reset_second_factor'
  | 'audit.read'
  // The tamper-evident log and intrusion signals (SPEC L1, L4): administrators only.
  | 'ledger.read'
  | 'ledger.checkpoint'
  | 'security.read'
  | 'outbox.read'
  // Reports (SPEC R1–R3): the issued PDF and its FHIR form, delivery status, the patient's own
  // password for e-mailed reports.
  | 'report.read'
  | 'report.delivery_status'
  | 'report.delivery_code'
  // Which DICOM peers (calling AE titles) may send to the organisation (SPEC I3).
  | 'dicom_peer.list'
  | 'dicom_peer.manage'
  // Case discussion (SPEC C2) and the live channel (C1).
  | 'discussion.read'
  | 'discussion.post'
  | 'annotation.write'
  | 'second_opinion.request'
  | 'second_opinion.respond'
  | 'second_opinion.list_assigned'
  | 'second_opinion.list_doctors'
  | 'live.subscribe'
  | 'live.urgent_cases';

export type Resource =
  | { kind: 'organisation'; orgId: string }
  | {
      kind: 'scan';
      orgId: string;
      /** The patient's user account, when the patient has one. */
      patientUserId: string | null;
      status: ScanStatus;
    }
  | { kind: 'user'; orgId: string; userId: string }
  | { kind: 'second_opinion'; orgId: string; requestedOfUserId: string };

/** Facts beyond the actor and resource; consent grants (A5) will be added here. */
export type PolicyContext = Record<string, never>;

export type Decision =
  | { allow: true }
  | {
      allow: false;
      /** forbidden: the actor may not; mfa_required: an admin must pass a second factor first;
       * not_found: the resource is invisible to the actor (no existence leak). */
      code: 'forbidden' | 'mfa_required' | 'not_found';
      reason: string;
    };

const allow: Decision = { allow: true };
const deny = (code: 'forbidden' | 'mfa_required' | 'not_found', reason: string): Decision => ({
  allow: false,
  code,
  reason,
});

/** Whether the actor can see clinical data at all. */
export function hasClinicalAccess(actor: Actor): boolean {
  if (isClinicianRole(actor.role)) return actor.clinicianVerified;
  if (actor.role === 'admin') return actor.mfa;
  return true; // patients: their own cases only, enforced per resource
}

function adminOnly(actor: Actor): Decision {
  if (actor.role !== 'admin') return deny('forbidden', 'Only an administrator may do this');
  if (!actor.mfa) return deny('mfa_required', 'Administrators must sign in with a second factor (enrol TOTP first)');
  return allow;
}

export function decide(actor: Actor, action: Action, resource: Resource, _context: PolicyContext = {}): Decision {
  if (resource.orgId !== actor.orgId) return deny('not_found', 'The resource belongs to another organisation');

  switch (action) {
    case 'scan.list':
      if (actor.role === 'admin') return adminOnly(actor);
      if (isClinicianRole(actor.role) && !actor.clinicianVerified) {
        return deny('forbidden', 'Your licence has not been verified yet');
      }
      return allow; // patients list their own scans; the query is restricted to them

    // A scan whose bytes no longer match their hash needs a doctor's second look (is the image
    // still the patient's?) and an administrator's (what happened to the storage?).
    case 'scan.integrity_review':
      if (actor.role === 'admin') return adminOnly(actor);
      if (actor.role !== 'doctor')
        return deny('forbidden', 'Only doctors and administrators review integrity failures');
      if (!actor.clinicianVerified) return deny('forbidden', 'Your licence has not been verified yet');
      return allow;

    case 'scan.upload':
      if (actor.role === 'pharmacist') return deny('forbidden', 'Pharmacists do not upload scans');
      if (actor.role === 'admin') return adminOnly(actor);
      if (actor.role === 'doctor' && !actor.clinicianVerified) {
        return deny('forbidden', 'Your licence has not been verified yet');
      }
      return allow;

    case 'scan.read':
    case 'scan.transition': {
      if (resource.kind !== 'scan') return deny('forbidden', 'Not a scan');
      if (actor.role === 'patient') {
        if (resource.patientUserId !== actor.userId) return deny('not_found', 'Patients see only their own scans');
        return action === 'scan.read' ? allow : deny('forbidden', 'Patients do not sign off scans');
      }
      if (!hasClinicalAccess(actor)) {
        return actor.role === 'admin'
          ? deny('mfa_required', 'Administrators must sign in with a second factor')
          : deny('forbidden', 'Your licence has not been verified yet');
      }
      // A final case (no owner) is not a permission question: the lifecycle refuses it with 409.
      const owner = ownerOf(resource.status);
      if (action === 'scan.transition' && owner !== undefined && owner !== actor.role) {
        return deny('forbidden', `A ${actor.role} cannot act on a case in ${resource.status}`);
      }
      return allow;
    }

    // De-identified copies leave the organisation's control, so doctors and administrators decide;
    // a patient already has their own original (scan.read), pharmacists have no use for one.
    case 'scan.export_deidentified':
      if (resource.kind !== 'scan') return deny('forbidden', 'Not a scan');
      if (actor.role === 'patient') {
        return resource.patientUserId === actor.userId
          ? deny(
              'forbidden',
              'Download your own image instead; de-identified exports are for doctors and administrators',
            )
          : deny('not_found', 'Patients see only their own scans');
      }
      if (actor.role === 'admin') return adminOnly(actor);
      if (actor.role !== 'doctor')
        return deny('forbidden', 'Only doctors and administrators export de-identified copies');
      if (!actor.clinicianVerified) return deny('forbidden', 'Your licence has not been verified yet');
      return allow;

    // A re-run is a doctor's call (after a model change, or a read they doubt); the AI decides nothing.
    case 'scan.reanalyse':
      if (resource.kind !== 'scan') return deny('forbidden', 'Not a scan');
      if (actor.role === 'patient') {
        return resource.patientUserId === actor.userId
          ? deny('forbidden', 'Only a doctor may re-run the analysis')
          : deny('not_found', 'Patients see only their own scans');
      }
      if (actor.role !== 'doctor') return deny('forbidden', 'Only a doctor may re-run the analysis');
      if (!actor.clinicianVerified) return deny('forbidden', 'Your licence has not been verified yet');
      return allow;

    // Which model reads the scans, and its card (its measured performance and limits), is for
    // everyone the AI's output is shown to; it holds no clinical or personal data.
    case 'model.read':
      return allow;

    // A case's discussion belongs to the clinicians who can see the case; patients never see it.
    case 'discussion.read':
    case 'discussion.post':
    case 'annotation.write':
    case 'second_opinion.request':
    case 'live.urgent_cases': {
      if (resource.kind !== 'scan') return deny('forbidden', 'Not a scan');
      if (!isClinicianRole(actor.role)) {
        return deny(actor.role === 'patient' ? 'not_found' : 'forbidden', 'The case discussion is for clinicians');
      }
      if (!actor.clinicianVerified) return deny('forbidden', 'Your licence has not been verified yet');
      const doctorsOnly =
        action === 'annotation.write' || action === 'second_opinion.request' || action === 'live.urgent_cases';
      if (doctorsOnly && actor.role !== 'doctor') return deny('forbidden', 'Only doctors may do this');
      return allow;
    }

    case 'second_opinion.respond':
      if (resource.kind !== 'second_opinion') return deny('forbidden', 'Not a second-opinion request');
      if (resource.requestedOfUserId !== actor.userId) {
        return deny('forbidden', 'Only the doctor who was asked may answer or decline this request');
      }
      if (actor.role !== 'doctor' || !actor.clinicianVerified) return deny('forbidden', 'Only verified doctors answer');
      return allow;

    case 'second_opinion.list_assigned':
    case 'second_opinion.list_doctors':
      if (actor.role !== 'doctor') return deny('forbidden', 'Second-opinion requests are addressed to doctors');
      if (!actor.clinicianVerified) return deny('forbidden', 'Your licence has not been verified yet');
      return allow;

    // Everyone signed in may hold the live channel; each event is then filtered by the rules above.
    case 'live.subscribe':
      return allow;

    // A report is released to the patient and to the clinicians who can see the case, once the
    // case is approved; its delivery status to the patient and to the administrators.
    case 'report.read':
    case 'report.delivery_status': {
      if (resource.kind !== 'scan') return deny('forbidden', 'Not a scan');
      if (actor.role === 'patient') {
        if (resource.patientUserId !== actor.userId) return deny('not_found', 'Patients see only their own scans');
      } else if (action === 'report.delivery_status' && actor.role !== 'admin') {
        return deny('forbidden', 'Delivery status is for the patient and the administrators');
      } else if (!hasClinicalAccess(actor)) {
        return actor.role === 'admin'
          ? deny('mfa_required', 'Administrators must sign in with a second factor')
          : deny('forbidden', 'Your licence has not been verified yet');
      }
      return resource.status === 'REPORT_READY'
        ? allow
        : deny('forbidden', 'The report is released once the case is approved');
    }

    case 'report.delivery_code':
      return actor.role === 'patient' ? allow : deny('forbidden', 'Only patients set a delivery code');

    case 'user.list':
    case 'user.verify_clinician':
    case 'user.disable':
    case 'user.reset_second_factor':
    case 'audit.read':
    case 'ledger.read':
    case 'ledger.checkpoint':
    case 'security.read':
    case 'dicom_peer.list':
    case 'dicom_peer.manage':
    case 'outbox.read':
      return adminOnly(actor);
  }
}
