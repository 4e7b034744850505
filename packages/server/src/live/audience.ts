/**
 * Who may receive a live event: the same policy that guards the REST API, asked per event and
 * per connection. A patient receives their own scans' status changes only; the discussion goes to
 * the clinicians who can see the case; new urgent cases to doctors.
 */
import { decide, type Action, type Actor } from '@scanflow/domain';
import type { LiveEvent, LiveKind } from './events.ts';

const ACTION_OF: Record<LiveKind, Action> = {
  'scan.status': 'scan.read',
  'scan.urgent': 'live.urgent_cases',
  'discussion.message': 'discussion.read',
  'annotation.changed': 'discussion.read',
  'second_opinion.changed': 'discussion.read',
};

export function mayReceive(actor: Actor, event: LiveEvent): boolean {
  return decide(actor, ACTION_OF[event.kind], {
    kind: 'scan',
    orgId: event.orgId,
    patientUserId: event.scan.patientUserId,
    status: event.scan.status,
  }).allow;
}
