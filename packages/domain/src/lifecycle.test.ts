import { describe, expect, it } from 'vitest';
import { AppError } from './errors.ts';
import { FORWARD_STEPS, planTransition, previousStatus, SCAN_STATUSES } from './lifecycle.ts';

const rx = {
  items: [{ drug: 'Amoxicillin', dose: '500 mg', route: 'oral', frequency: 'three times daily', duration: '7 days' }],
};

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (error) {
    return error instanceof AppError ? error.code : 'not-an-app-error';
  }
  return undefined;
}

describe('scan lifecycle', () => {
  it('declares a single forward chain through every status', () => {
    expect(FORWARD_STEPS.map((s) => s.from)).toEqual(SCAN_STATUSES.slice(0, -1));
    expect(FORWARD_STEPS.map((s) => s.to)).toEqual(SCAN_STATUSES.slice(1));
  });

  it('walks the happy path with the required fields', () => {
    expect(planTransition('PENDING_AI', 'system', { action: 'record_ai' }).to).toBe('AI_ANALYZED');
    const verified = planTransition('AI_ANALYZED', 'doctor', {
      action: 'verify',
      findings: ' Nodule RUL ',
      impression: '',
    });
    expect(verified).toMatchObject({ to: 'DOCTOR_VERIFIED', findings: { findings: 'Nodule RUL', impression: null } });
    const completed = planTransition('DOCTOR_VERIFIED', 'pharmacist', { action: 'complete', prescription: rx });
    expect(completed.prescription?.items[0]?.route).toBe('oral');
    expect(planTransition('PHARMACIST_COMPLETED', 'admin', { action: 'approve' }).to).toBe('REPORT_READY');
  });

  it('refuses a step by the wrong role, from the wrong state, or without its fields', () => {
    expect(codeOf(() => planTransition('AI_ANALYZED', 'pharmacist', { action: 'verify', findings: 'x' }))).toBe(
      'forbidden',
    );
    expect(codeOf(() => planTransition('PENDING_AI', 'doctor', { action: 'verify', findings: 'x' }))).toBe('conflict');
    expect(codeOf(() => planTransition('AI_ANALYZED', 'doctor', { action: 'verify', findings: '   ' }))).toBe(
      'validation_failed',
    );
    expect(codeOf(() => planTransition('DOCTOR_VERIFIED', 'pharmacist', { action: 'complete' }))).toBe(
      'validation_failed',
    );
    expect(codeOf(() => planTransition('REPORT_READY', 'admin', { action: 'approve' }))).toBe('conflict');
    expect(codeOf(() => planTransition('PENDING_AI', 'system', { action: 'bogus' as never }))).toBe(
      'validation_failed',
    );
  });

  it('sends a case back one step, by the role that owns it, with a reason', () => {
    expect(previousStatus('PHARMACIST_COMPLETED')).toBe('DOCTOR_VERIFIED');
    expect(
      planTransition('PHARMACIST_COMPLETED', 'admin', { action: 'send_back', reason: 'Dose unclear' }),
    ).toMatchObject({
      to: 'DOCTOR_VERIFIED',
      reason: 'Dose unclear',
    });
    expect(planTransition('AI_ANALYZED', 'doctor', { action: 'send_back', reason: 'Re-run' }).to).toBe('PENDING_AI');
    expect(codeOf(() => planTransition('PHARMACIST_COMPLETED', 'admin', { action: 'send_back' }))).toBe(
      'validation_failed',
    );
    expect(codeOf(() => planTransition('DOCTOR_VERIFIED', 'doctor', { action: 'send_back', reason: 'x' }))).toBe(
      'forbidden',
    );
    expect(codeOf(() => planTransition('PENDING_AI', 'doctor', { action: 'send_back', reason: 'x' }))).toBe('conflict');
    expect(codeOf(() => planTransition('REPORT_READY', 'admin', { action: 'send_back', reason: 'x' }))).toBe(
      'conflict',
    );
  });
});
