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
const scan: Resource = { kind: 'scan', orgId: org, patientUserId: 'p1', status: 'DOCTOR_VERIFIED' };
const allowed = (a: Actor, action: Parameters<typeof decide>[1], resource: Resource = scan) =>
  decide(a, action, resource).allow;

describe('case discussion policy', () => {
  it('opens the chat to verified clinicians, closes it to patients (as not found), admins and the unverified', () => {
    for (const action of ['discussion.read', 'discussion.post'] as const) {
      expect(allowed(actor({}), action)).toBe(true);
      expect(allowed(actor({ role: 'pharmacist' }), action)).toBe(true);
      expect(decide(actor({ role: 'patient', userId: 'p1' }), action, scan)).toMatchObject({ code: 'not_found' });
      expect(allowed(actor({ role: 'admin', mfa: true }), action)).toBe(false);
      expect(allowed(actor({ clinicianVerified: false }), action)).toBe(false);
      expect(decide(actor({}), action, { ...scan, orgId: 'org-b' })).toMatchObject({ code: 'not_found' });
    }
  });

  it('leaves drawing, asking for second opinions and urgent-case alerts to doctors', () => {
    for (const action of ['annotation.write', 'second_opinion.request', 'live.urgent_cases'] as const) {
      expect(allowed(actor({}), action)).toBe(true);
      expect(allowed(actor({ role: 'pharmacist' }), action)).toBe(false);
      expect(allowed(actor({ role: 'patient', userId: 'p1' }), action)).toBe(false);
    }
  });

  it('lets only the doctor who was asked answer a second-opinion request', () => {
    const request: Resource = { kind: 'second_opinion', orgId: org, requestedOfUserId: 'u2' };
    expect(allowed(actor({ userId: 'u2' }), 'second_opinion.respond', request)).toBe(true);
    expect(allowed(actor({ userId: 'u1' }), 'second_opinion.respond', request)).toBe(false);
    expect(allowed(actor({ userId: 'u2', clinicianVerified: false }), 'second_opinion.respond', request)).toBe(false);
  });

  it('lets everyone signed in hold the live channel (events are filtered one by one)', () => {
    const organisation: Resource = { kind: 'organisation', orgId: org };
    for (const role of ['patient', 'doctor', 'pharmacist', 'admin'] as const) {
      expect(allowed(actor({ role }), 'live.subscribe', organisation)).toBe(true);
    }
    expect(allowed(actor({}), 'live.subscribe', { kind: 'organisation', orgId: 'org-b' })).toBe(false);
  });
});
