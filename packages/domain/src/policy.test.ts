import { describe, expect, it } from 'vitest';
import { decide, type Actor, type Resource } from './policy.ts';

const org = 'org-a';
const actor = (over: Partial<Actor>): Actor => ({
  userId: 'u1',
  orgId: org,
  role: 'doctor',
  clinicianVerified: true,
  mfa: false,
  ...over,
});
const scan = (over: Partial<Extract<Resource, { kind: 'scan' }>> = {}): Resource => ({
  kind: 'scan',
  orgId: org,
  patientUserId: 'p1',
  status: 'AI_ANALYZED',
  ...over,
});

describe('access policy', () => {
  it('hides other organisations entirely', () => {
    expect(decide(actor({ role: 'admin', mfa: true }), 'scan.read', scan({ orgId: 'org-b' }))).toMatchObject({
      allow: false,
      code: 'not_found',
    });
  });

  it('lets patients read only their own scans and never sign off', () => {
    expect(decide(actor({ role: 'patient', userId: 'p1' }), 'scan.read', scan()).allow).toBe(true);
    expect(decide(actor({ role: 'patient', userId: 'p2' }), 'scan.read', scan())).toMatchObject({ code: 'not_found' });
    expect(decide(actor({ role: 'patient', userId: 'p1' }), 'scan.transition', scan())).toMatchObject({
      code: 'forbidden',
    });
  });

  it('lets verified doctors and administrators with a second factor export de-identified copies', () => {
    const action = 'scan.export_deidentified';
    expect(decide(actor({}), action, scan()).allow).toBe(true);
    expect(decide(actor({ role: 'admin', mfa: true }), action, scan()).allow).toBe(true);
    expect(decide(actor({ role: 'admin' }), action, scan())).toMatchObject({ code: 'mfa_required' });
    expect(decide(actor({ clinicianVerified: false }), action, scan())).toMatchObject({ code: 'forbidden' });
    expect(decide(actor({ role: 'pharmacist' }), action, scan())).toMatchObject({ code: 'forbidden' });
    expect(decide(actor({ role: 'patient', userId: 'p1' }), action, scan())).toMatchObject({ code: 'forbidden' });
    expect(decide(actor({ role: 'patient', userId: 'p2' }), action, scan())).toMatchObject({ code: 'not_found' });
    expect(decide(actor({}), action, scan({ orgId: 'org-b' }))).toMatchObject({ code: 'not_found' });
  });

  it('keeps unverified clinicians away from clinical data', () => {
    expect(decide(actor({ clinicianVerified: false }), 'scan.read', scan()).allow).toBe(false);
    expect(decide(actor({ clinicianVerified: false }), 'scan.list', { kind: 'organisation', orgId: org }).allow).toBe(
      false,
    );
    expect(decide(actor({ role: 'pharmacist', clinicianVerified: false }), 'scan.read', scan()).allow).toBe(false);
  });

  it('lets only verified doctors re-run an analysis, and everyone in the organisation read the model card', () => {
    expect(decide(actor({}), 'scan.reanalyse', scan({ status: 'DOCTOR_VERIFIED' })).allow).toBe(true);
    expect(decide(actor({ clinicianVerified: false }), 'scan.reanalyse', scan())).toMatchObject({ code: 'forbidden' });
    expect(decide(actor({ role: 'pharmacist' }), 'scan.reanalyse', scan())).toMatchObject({ code: 'forbidden' });
    expect(decide(actor({ role: 'admin', mfa: true }), 'scan.reanalyse', scan())).toMatchObject({ code: 'forbidden' });
    expect(decide(actor({ role: 'patient', userId: 'p1' }), 'scan.reanalyse', scan())).toMatchObject({
      code: 'forbidden',
    });
    expect(decide(actor({ role: 'patient', userId: 'p2' }), 'scan.reanalyse', scan())).toMatchObject({
      code: 'not_found',
    });
    expect(decide(actor({}), 'scan.reanalyse', scan({ orgId: 'org-b' }))).toMatchObject({ code: 'not_found' });
    const organisation = { kind: 'organisation' as const, orgId: org };
    expect(decide(actor({ role: 'patient' }), 'model.read', organisation).allow).toBe(true);
    expect(decide(actor({}), 'model.read', { kind: 'organisation', orgId: 'org-b' }).allow).toBe(false);
  });

  it('lets only the owning role transition a case', () => {
    expect(decide(actor({}), 'scan.transition', scan()).allow).toBe(true);
    expect(decide(actor({ role: 'pharmacist' }), 'scan.transition', scan()).allow).toBe(false);
    expect(decide(actor({ role: 'pharmacist' }), 'scan.transition', scan({ status: 'DOCTOR_VERIFIED' })).allow).toBe(
      true,
    );
  });

  it('requires a second factor for every admin function', () => {
    const orgResource: Resource = { kind: 'organisation', orgId: org };
    expect(decide(actor({ role: 'admin', mfa: false }), 'audit.read', orgResource)).toMatchObject({
      code: 'mfa_required',
    });
    expect(decide(actor({ role: 'admin', mfa: true }), 'audit.read', orgResource).allow).toBe(true);
    expect(decide(actor({ role: 'doctor', mfa: true }), 'audit.read', orgResource)).toMatchObject({
      code: 'forbidden',
    });
    expect(
      decide(actor({ role: 'admin', mfa: false }), 'scan.read', scan({ status: 'PHARMACIST_COMPLETED' })).allow,
    ).toBe(false);
  });

  it('releases a report to its patient and to clinicians with access only once approved', () => {
    const ready = scan({ status: 'REPORT_READY' });
    expect(decide(actor({ role: 'patient', userId: 'p1' }), 'report.read', ready).allow).toBe(true);
    expect(decide(actor({ role: 'patient', userId: 'p1' }), 'report.read', scan())).toMatchObject({
      code: 'forbidden',
    });
    expect(decide(actor({ role: 'patient', userId: 'p2' }), 'report.read', ready)).toMatchObject({ code: 'not_found' });
    expect(decide(actor({}), 'report.read', ready).allow).toBe(true);
    expect(decide(actor({ clinicianVerified: false }), 'report.read', ready).allow).toBe(false);
    expect(decide(actor({ role: 'admin', mfa: false }), 'report.read', ready)).toMatchObject({ code: 'mfa_required' });
    // Delivery status: the patient and the administrators, not the other clinicians.
    expect(decide(actor({ role: 'patient', userId: 'p1' }), 'report.delivery_status', ready).allow).toBe(true);
    expect(decide(actor({ role: 'admin', mfa: true }), 'report.delivery_status', ready).allow).toBe(true);
    expect(decide(actor({}), 'report.delivery_status', ready)).toMatchObject({ code: 'forbidden' });
    expect(decide(actor({ role: 'patient' }), 'report.delivery_code', { kind: 'organisation', orgId: org }).allow).toBe(
      true,
    );
    expect(decide(actor({}), 'report.delivery_code', { kind: 'organisation', orgId: org }).allow).toBe(false);
  });
});
