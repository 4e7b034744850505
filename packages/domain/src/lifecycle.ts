/**
 * The scan lifecycle (SPEC W1), declared once. Everything else — the transition endpoint, the
 * worklists, the web app's buttons — reads this table instead of re-stating the rules.
 *
 *   PENDING_AI → AI_ANALYZED → DOCTOR_VERIFIED → PHARMACIST_COMPLETED → REPORT_READY
 *
 * Each forward step belongs to one role; the same role may instead send the case back one step
 * with a reason (a doctor sending an analysed case back asks for the AI to run again).
 */
import { AppError } from './errors.ts';
import { validatePrescription, type Prescription } from './prescription.ts';
import type { Role } from './roles.ts';

export const SCAN_STATUSES = [
  'PENDING_AI',
  'AI_ANALYZED',
  'DOCTOR_VERIFIED',
  'PHARMACIST_COMPLETED',
  'REPORT_READY',
] as const;
export type ScanStatus = (typeof SCAN_STATUSES)[number];

export const isScanStatus = (value: unknown): value is ScanStatus =>
  typeof value === 'string' && SCAN_STATUSES.includes(value as ScanStatus);

/** Who takes a step: a person in a role, or the system (the AI pre-read). */
export type Performer = Role | 'system';

export type ForwardAction = 'record_ai' | 'verify' | 'complete' | 'approve';
export type TransitionAction = ForwardAction | 'send_back';
export const USER_TRANSITION_ACTIONS = ['verify', 'complete', 'approve', 'send_back'] as const;
export type UserTransitionAction = (typeof USER_TRANSITION_ACTIONS)[number];

interface ForwardStep {
  readonly action: ForwardAction;
  readonly from: ScanStatus;
  readonly to: ScanStatus;
  readonly by: Performer;
  /** Fields the step cannot be taken without. */
  readonly requires: readonly ('findings' | 'prescription')[];
}

export const FORWARD_STEPS: readonly ForwardStep[] = [
  { action: 'record_ai', from: 'PENDING_AI', to: 'AI_ANALYZED', by: 'system', requires: [] },
  { action: 'verify', from: 'AI_ANALYZED', to: 'DOCTOR_VERIFIED', by: 'doctor', requires: ['findings'] },
  {
    action: 'complete',
    from: 'DOCTOR_VERIFIED',
    to: 'PHARMACIST_COMPLETED',
    by: 'pharmacist',
    requires: ['prescription'],
  },
  { action: 'approve', from: 'PHARMACIST_COMPLETED', to: 'REPORT_READY', by: 'admin', requires: [] },
];

/** The step that leaves a status, if any (REPORT_READY is final). */
export const stepFrom = (status: ScanStatus): ForwardStep | undefined => FORWARD_STEPS.find((s) => s.from === status);

/** The status a case returns to when sent back from `status`, if it can be. */
export function previousStatus(status: ScanStatus): ScanStatus | undefined {
  if (status === 'PENDING_AI' || status === 'REPORT_READY') return undefined;
  return FORWARD_STEPS.find((s) => s.to === status)?.from;
}

/** The role whose queue holds scans in this status (the one that acts next). */
export const ownerOf = (status: ScanStatus): Performer | undefined => stepFrom(status)?.by;

export interface TransitionInput {
  action: TransitionAction;
  findings?: string | undefined;
  impression?: string | undefined;
  notes?: string | undefined;
  reason?: string | undefined;
  prescription?: unknown;
}

export interface PlannedTransition {
  action: TransitionAction;
  from: ScanStatus;
  to: ScanStatus;
  /** Validated clinical content to store with the step. */
  findings?: { findings: string; impression: string | null };
  prescription?: Prescription;
  notes: string | null;
  reason: string | null;
}

const MAX_TEXT = 20_000;

function cleanText(value: string | undefined, field: string): string | null {
  if (value === undefined) return null;
  const trimmed = value.trim();
  if (trimmed.length > MAX_TEXT)
    throw new AppError('validation_failed', `${field} is longer than ${MAX_TEXT} characters`);
  return trimmed.length > 0 ? trimmed : null;
}

/**
 * Decide what a transition does, or refuse it. Pure: the caller applies the plan with an
 * optimistic-concurrency check on the scan's version.
 */
export function planTransition(current: ScanStatus, performer: Performer, input: TransitionInput): PlannedTransition {
  const notes = cleanText(input.notes, 'notes');
  if (input.action === 'send_back') {
    const to = previousStatus(current);
    if (!to) throw new AppError('conflict', `A case in ${current} cannot be sent back`);
    const owner = ownerOf(current);
    if (owner !== performer)
      throw new AppError('forbidden', `Only the ${String(owner)} can send back a case in ${current}`);
    const reason = cleanText(input.reason, 'reason');
    if (!reason) throw new AppError('validation_failed', 'A reason is required to send a case back');
    return { action: 'send_back', from: current, to, notes, reason };
  }

  const step = FORWARD_STEPS.find((s) => s.action === input.action);
  if (!step) throw new AppError('validation_failed', `Unknown action ${String(input.action)}`);
  if (step.from !== current) {
    throw new AppError('conflict', `Cannot ${step.action} a case in ${current}; it must be in ${step.from}`);
  }
  if (step.by !== performer) throw new AppError('forbidden', `Only the ${step.by} can ${step.action} a case`);

  const plan: PlannedTransition = { action: step.action, from: step.from, to: step.to, notes, reason: null };
  if (step.requires.includes('findings')) {
    const findings = cleanText(input.findings, 'findings');
    if (!findings) throw new AppError('validation_failed', "The doctor's findings are required to verify a case");
    plan.findings = { findings, impression: cleanText(input.impression, 'impression') };
  }
  if (step.requires.includes('prescription')) {
    if (input.prescription === undefined) {
      throw new AppError('validation_failed', 'A structured prescription is required to complete a case');
    }
    plan.prescription = validatePrescription(input.prescription);
  }
  return plan;
}
