/**
 * Intrusion signals (SPEC L4): the audit events that were not a success — failed sign-ins,
 * sign-ins on a locked account, refused accesses, rejected or reused tokens, integrity failures —
 * listed and summarised per user, per client address and over time, plus the alerts raised for
 * an administrator (integrity mismatches, witnesses' split views, refused cosignatures).
 *
 * Reads run in the administrator's scope, so row-level security keeps each organisation to its
 * own events; events that belong to no organisation (a failed sign-in for an unknown address) are
 * in the system log, which the operator exports with `scanflow ledger export --log system`.
 */
import type { Queryable } from '../db/database.ts';

export type Bucket = 'hour' | 'day';

export interface SignalQuery {
  from: string;
  to: string;
  bucket: Bucket;
  limit: number;
}

export interface SecuritySignals {
  from: string;
  to: string;
  total: number;
  byAction: { action: string; outcome: string; count: number }[];
  byUser: { actorUserId: string | null; count: number }[];
  byAddress: { clientAddress: string | null; count: number }[];
  overTime: { start: string; count: number }[];
  recent: {
    seq: number;
    at: string;
    action: string;
    outcome: string;
    actorUserId: string | null;
    clientAddress: string | null;
    resourceType: string | null;
    resourceId: string | null;
    reason: string | null;
  }[];
}

// A signal is a refusal (401, 403, 404, 423: someone asked for what they may not have), or a
// failure of authentication or of an integrity check. Other failures (a 409 for a report still
// being generated, a 422 for a broken file) are ordinary errors, not intrusion signals. RLS adds
// the organisation.
const SIGNALS = `FROM audit_events
  WHERE (outcome = 'denied' OR (outcome = 'failure' AND (action LIKE 'auth.%' OR action LIKE '%integrity%')))
    AND at >= $1 AND at < $2`;

export async function securitySignals(tx: Queryable, q: SignalQuery): Promise<SecuritySignals> {
  const range = [q.from, q.to];
  const count = (r: { count: unknown }) => Number(r.count);
  const [total, byAction, byUser, byAddress, overTime, recent] = await Promise.all([
    tx.query<{ count: number }>(`SELECT count(*) AS count ${SIGNALS}`, range),
    tx.query<{ action: string; outcome: string; count: number }>(
      `SELECT action, outcome, count(*) AS count ${SIGNALS} GROUP BY action, outcome ORDER BY count(*) DESC, action LIMIT 100`,
      range,
    ),
    tx.query<{ actor_user_id: string | null; count: number }>(
      `SELECT actor_user_id, count(*) AS count ${SIGNALS} GROUP BY actor_user_id ORDER BY count(*) DESC LIMIT $3`,
      [...range, q.limit],
    ),
    tx.query<{ client_address: string | null; count: number }>(
      `SELECT client_address, count(*) AS count ${SIGNALS} GROUP BY client_address ORDER BY count(*) DESC LIMIT $3`,
      [...range, q.limit],
    ),
    tx.query<{ start: Date; count: number }>(
      `SELECT date_trunc('${q.bucket === 'day' ? 'day' : 'hour'}', at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' AS start,
              count(*) AS count ${SIGNALS} GROUP BY 1 ORDER BY 1`,
      range,
    ),
    tx.query<Record<string, unknown>>(
      `SELECT seq, at, action, outcome, actor_user_id, client_address, resource_type, resource_id, reason
         ${SIGNALS} ORDER BY seq DESC LIMIT $3`,
      [...range, q.limit],
    ),
  ]);
  return {
    from: q.from,
    to: q.to,
    total: count(total.rows[0] ?? { count: 0 }),
    byAction: byAction.rows.map((r) => ({ action: r.action, outcome: r.outcome, count: count(r) })),
    byUser: byUser.rows.map((r) => ({ actorUserId: r.actor_user_id, count: count(r) })),
    byAddress: byAddress.rows.map((r) => ({ clientAddress: r.client_address, count: count(r) })),
    overTime: overTime.rows.map((r) => ({ start: new Date(r.start).toISOString(), count: count(r) })),
    recent: recent.rows.map((r) => ({
      seq: Number(r.seq),
      at: (r.at as Date).toISOString(),
      action: String(r.action),
      outcome: String(r.outcome),
      actorUserId: (r.actor_user_id as string | null) ?? null,
      clientAddress: (r.client_address as string | null) ?? null,
      resourceType: (r.resource_type as string | null) ?? null,
      resourceId: (r.resource_id as string | null) ?? null,
      reason: (r.reason as string | null) ?? null,
    })),
  };
}

export interface AlertView {
  id: string;
  kind: string;
  scope: 'organisation' | 'node';
  resourceType: string | null;
  resourceId: string | null;
  details: Record<string, unknown> | null;
  createdAt: string;
}

/** Alerts for the organisation, and node-wide ones (a witness's split view), newest first. */
export async function listAlerts(tx: Queryable, limit: number): Promise<AlertView[]> {
  const { rows } = await tx.query<Record<string, unknown>>(
    `SELECT id, org_id, kind, resource_type, resource_id, details, created_at FROM alerts ORDER BY created_at DESC LIMIT $1`,
    [limit],
  );
  return rows.map((r) => ({
    id: String(r.id),
    kind: String(r.kind),
    scope: r.org_id === null ? 'node' : 'organisation',
    resourceType: (r.resource_type as string | null) ?? null,
    resourceId: (r.resource_id as string | null) ?? null,
    details: (r.details as Record<string, unknown> | null) ?? null,
    createdAt: (r.created_at as Date).toISOString(),
  }));
}
