/**
 * The audit trail: every access and action, allowed or not, in one table written from one
 * place. Events name identifiers, never personal data (no names, e-mail addresses or clinical
 * text); the reason a person gives (sending a case back, break-glass) is kept because the trail
 * must say why. The tamper-evident log (ledger) consumes these rows in `seq` order.
 */
import type { Database, Queryable } from '../db/database.ts';

export type AuditOutcome = 'success' | 'denied' | 'failure';

export interface AuditEvent {
  orgId: string | null;
  actorUserId: string | null;
  actorRole: string | null;
  action: string;
  resourceType?: string | null;
  resourceId?: string | null;
  outcome: AuditOutcome;
  clientAddress?: string | null;
  reason?: string | null;
  /** Identifiers only (hashes, ids, versions, counts): copied into the ledger leaf. */
  details?: AuditDetails | null;
}

export type AuditDetails = Readonly<Record<string, string | number | boolean | null>>;

export interface StoredAuditEvent extends Required<AuditEvent> {
  seq: number;
  id: string;
  at: string;
}

const INSERT = `INSERT INTO audit_events
  (org_id, actor_user_id, actor_role, action, resource_type, resource_id, outcome, client_address, reason, details)
  VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`;

const COLUMNS = 10;

function params(e: AuditEvent): unknown[] {
  return [
    e.orgId,
    e.actorUserId,
    e.actorRole,
    e.action,
    e.resourceType ?? null,
    e.resourceId ?? null,
    e.outcome,
    e.clientAddress ?? null,
    e.reason?.slice(0, 2000) ?? null,
    e.details ? JSON.stringify(e.details) : null,
  ];
}

/**
 * Writes events. `record` groups the events of concurrent requests into one multi-row INSERT
 * (group commit): each caller still waits until its own event is committed, so no request is
 * answered before its audit row exists, but a busy server pays one round trip per batch instead
 * of one per request.
 */
export class AuditLog {
  private pending: { event: AuditEvent; resolve: () => void; reject: (error: unknown) => void }[] = [];
  private scheduled = false;
  private static readonly MAX_BATCH = 500;

  constructor(private readonly db: Database) {}

  /** Records an event in its own transaction (used for refusals, whose work was rolled back). */
  record(event: AuditEvent): Promise<void> {
    return new Promise((resolve, reject) => {
      this.pending.push({ event, resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => void this.flush());
      }
    });
  }

  private async flush(): Promise<void> {
    const batch = this.pending.splice(0, AuditLog.MAX_BATCH);
    this.scheduled = this.pending.length > 0;
    if (this.scheduled) setImmediate(() => void this.flush());
    if (batch.length === 0) return;
    try {
      await insertMany(
        this.db,
        batch.map((item) => item.event),
      );
      for (const item of batch) item.resolve();
    } catch (error) {
      for (const item of batch) item.reject(error);
    }
  }

  /** Records an event inside the caller's transaction, so it commits or rolls back with the action. */
  static async recordIn(tx: Queryable, event: AuditEvent): Promise<void> {
    await tx.query(INSERT, params(event));
  }

  /** Several events inside the caller's transaction, in one statement. */
  static async recordManyIn(tx: Queryable, events: readonly AuditEvent[]): Promise<void> {
    if (events.length > 0) await insertMany(tx, events);
  }
}

/** One multi-row INSERT. */
async function insertMany(q: Queryable, events: readonly AuditEvent[]): Promise<void> {
  const rows = events.map(
    (_, i) => `(${Array.from({ length: COLUMNS }, (_, j) => `$${i * COLUMNS + j + 1}`).join(', ')})`,
  );
  await q.query(
    `INSERT INTO audit_events
       (org_id, actor_user_id, actor_role, action, resource_type, resource_id, outcome, client_address, reason,
        details)
     VALUES ${rows.join(', ')}`,
    events.flatMap(params),
  );
}

export interface AuditQuery {
  action?: string | undefined;
  actorUserId?: string | undefined;
  resourceId?: string | undefined;
  outcome?: AuditOutcome | undefined;
  from?: string | undefined;
  to?: string | undefined;
  beforeSeq?: number | undefined;
  limit: number;
}

/** Reads the trail within a scoped transaction (RLS limits it to the caller's organisation). */
export async function listAuditEvents(tx: Queryable, q: AuditQuery): Promise<StoredAuditEvent[]> {
  const where: string[] = [];
  const values: unknown[] = [];
  const add = (sql: string, value: unknown) => {
    values.push(value);
    where.push(sql.replace('?', `$${values.length}`));
  };
  if (q.action) add('action = ?', q.action);
  if (q.actorUserId) add('actor_user_id = ?', q.actorUserId);
  if (q.resourceId) add('resource_id = ?', q.resourceId);
  if (q.outcome) add('outcome = ?', q.outcome);
  if (q.from) add('at >= ?', q.from);
  if (q.to) add('at < ?', q.to);
  if (q.beforeSeq) add('seq < ?', q.beforeSeq);
  values.push(q.limit);
  const { rows } = await tx.query<Record<string, unknown>>(
    `SELECT seq, id, org_id, at, actor_user_id, actor_role, action, resource_type, resource_id, outcome,
            client_address, reason, details
       FROM audit_events ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
      ORDER BY seq DESC LIMIT $${values.length}`,
    values,
  );
  return rows.map((r) => ({
    seq: Number(r.seq),
    id: String(r.id),
    at: (r.at as Date).toISOString(),
    orgId: (r.org_id as string | null) ?? null,
    actorUserId: (r.actor_user_id as string | null) ?? null,
    actorRole: (r.actor_role as string | null) ?? null,
    action: String(r.action),
    resourceType: (r.resource_type as string | null) ?? null,
    resourceId: (r.resource_id as string | null) ?? null,
    outcome: r.outcome as AuditOutcome,
    clientAddress: (r.client_address as string | null) ?? null,
    reason: (r.reason as string | null) ?? null,
    details: (r.details as AuditDetails | null) ?? null,
  }));
}
