/**
 * Which scans each role's worklist shows by default (SPEC W2), and how they are ordered (M4):
 * HIGH priority first (with ROUTINE cases that waited past the ceiling), then the longest-waiting
 * first.
 */
import { ownerOf, SCAN_STATUSES, type ScanStatus } from './lifecycle.ts';
import type { Role } from './roles.ts';

export type Priority = 'HIGH' | 'ROUTINE';

/** The statuses a role works on: the queue where that role acts next. Patients see all of theirs. */
export function queueStatuses(role: Role): readonly ScanStatus[] {
  if (role === 'patient') return SCAN_STATUSES;
  return SCAN_STATUSES.filter((status) => ownerOf(status) === role);
}

export interface WorklistOrderKey {
  priority: Priority | null;
  /** When the case entered its current queue (its status). */
  waitingSince: Date;
  id: string;
}

/**
 * The maximum-wait ceiling (SPEC M4): a ROUTINE case waiting since before `cutoff` (now minus the
 * configured maximum wait) sorts with the HIGH cases, so a case the AI under-rated cannot sink to
 * the bottom of a busy queue. 0 is the HIGH group, 1 the rest.
 */
export function queueRank(key: Pick<WorklistOrderKey, 'priority' | 'waitingSince'>, cutoff: Date): 0 | 1 {
  return key.priority === 'HIGH' || key.waitingSince.getTime() < cutoff.getTime() ? 0 : 1;
}

/** The ceiling's cutoff: cases waiting since before it join the HIGH group. */
export const maxWaitCutoff = (now: Date, maxWaitMinutes: number): Date =>
  new Date(now.getTime() - maxWaitMinutes * 60_000);

/**
 * Worklist ordering as a comparator (the database query implements the same order): the HIGH
 * group (HIGH cases and those past the ceiling) first, then the longest-waiting first. `cutoff` is
 * fixed for a whole paging session, so pages agree with each other while time passes.
 */
export function compareWorklist(a: WorklistOrderKey, b: WorklistOrderKey, cutoff: Date): number {
  return (
    queueRank(a, cutoff) - queueRank(b, cutoff) ||
    a.waitingSince.getTime() - b.waitingSince.getTime() ||
    (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)
  );
}
