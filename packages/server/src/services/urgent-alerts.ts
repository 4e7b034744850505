/**
 * The unopened-urgent-case alert (SPEC M4): a HIGH priority case that no doctor has opened within
 * URGENT_UNOPENED_MINUTES of its analysis raises one `scan.urgent_unopened` event, once per case.
 * The event is in the audit trail, where administrators read it (GET /api/v1/audit?action=…), and
 * is signalled in process ('urgent-unopened') for live views. "Opened" means a doctor read the case,
 * its image or a rendition of it since it entered AI_ANALYZED, as the audit trail records it.
 */
import type { AppContext } from '../context.ts';
import { withSystem } from '../db/scope.ts';
import { AuditLog } from '../audit/audit-log.ts';

export const URGENT_UNOPENED_ACTION = 'scan.urgent_unopened';
const OPENED_BY = ['scan.read', 'scan.image_read', 'scan.rendition_read', 'scan.analysis_read'];
// Any constant shared by every Scanflow process: one process checks at a time (pg_locks names it).
const ALERT_LOCK_ID = 7_246_031_912;

export interface UrgentAlert {
  orgId: string;
  scanId: string;
  waitingMinutes: number;
}

/**
 * Raises the alerts due at `now`; returns them. One transaction under an advisory lock, so several
 * processes sharing the database never raise one case twice; system work, across organisations.
 * (PostgreSQL's default READ COMMITTED gives each statement a fresh snapshot: the query below sees
 * what a checker that held the lock before committed.)
 */
export async function raiseUrgentUnopenedAlerts(ctx: AppContext, now = new Date()): Promise<UrgentAlert[]> {
  const minutes = ctx.config.urgentUnopenedMinutes;
  const alerts = await withSystem(ctx.db, async (tx) => {
    // Checkers take turns (the check is short); each one's query, run after the lock is granted,
    // sees the events the previous one committed, so no case is raised twice.
    await tx.query('SELECT pg_advisory_xact_lock($1)', [ALERT_LOCK_ID]);
    const { rows } = await tx.query<{ id: string; org_id: string; waited: number }>(
      `SELECT s.id, s.org_id, extract(epoch FROM ($1::timestamptz - s.status_since)) / 60 AS waited
         FROM scans s
        WHERE s.status = 'AI_ANALYZED' AND s.priority_rank = 0 AND s.status_since < $1::timestamptz - make_interval(mins => $2::int)
          AND NOT EXISTS (SELECT 1 FROM audit_events e WHERE e.resource_id = s.id::text AND e.action = $3)
          AND NOT EXISTS (SELECT 1 FROM audit_events e
                           WHERE e.resource_id = s.id::text AND e.action = ANY($4::text[]) AND e.actor_role = 'doctor'
                             AND e.outcome = 'success' AND e.at >= s.status_since)
        ORDER BY s.status_since LIMIT 500`,
      [now.toISOString(), minutes, URGENT_UNOPENED_ACTION, OPENED_BY],
    );
    for (const row of rows) {
      await AuditLog.recordIn(tx, {
        orgId: row.org_id,
        actorUserId: null,
        actorRole: 'system',
        action: URGENT_UNOPENED_ACTION,
        resourceType: 'scan',
        resourceId: row.id,
        outcome: 'success',
        reason: `HIGH priority case not opened by a doctor within ${minutes} minutes of its analysis`,
        details: { waitingMinutes: Math.floor(Number(row.waited)), limitMinutes: minutes },
      });
    }
    return rows.map((r) => ({ orgId: r.org_id, scanId: r.id, waitingMinutes: Math.floor(Number(r.waited)) }));
  });
  for (const alert of alerts) ctx.signals.emit('urgent-unopened', alert);
  return alerts;
}
