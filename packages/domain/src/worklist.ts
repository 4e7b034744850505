/**
 * Which scans each role's worklist shows by default (SPEC W2), and how they are ordered (M4):
 * HIGH priority first, then the longest-waiting first.
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
  receivedAt: Date;
  id: string;
}

/** Worklist ordering as a comparator; the database query implements the same order. */
export function compareWorklist(a: WorklistOrderKey, b: WorklistOrderKey): number {
  const rank = (p: Priority | null) => (p === 'HIGH' ? 0 : 1);
  return (
    rank(a.priority) - rank(b.priority) ||
    a.receivedAt.getTime() - b.receivedAt.getTime() ||
    (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)
  );
}
