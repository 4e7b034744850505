/**
 * The sequencer: turns committed audit events into log leaves, in batches, asynchronously — the
 * way Certificate Transparency logs integrate submissions — so the audit insert on every request
 * stays one row and no request waits on a log-wide lock.
 *
 * Order. Each pass takes, under one advisory lock (several processes may run a sequencer against
 * one PostgreSQL server), the committed audit events not yet in any log, in `seq` order, and
 * appends each to its organisation's log (or the system log) at the next leaf index. `seq` comes
 * from a sequence, so a transaction can commit after a later `seq` was already sequenced; the
 * pass therefore looks back LOOKBACK events below the highest sequenced one and appends such a
 * late event after the others. The log's order is the sequencer's (as in CT); the event's own
 * `seq` is in the entry (`extra.auditSeq`). An event that commits more than LOOKBACK events late
 * would be missed; request transactions are far shorter than that.
 */
import { hashLeaf } from '@scanflow/ledger';
import type { Database, Queryable } from '../db/database.ts';
import { withSystem } from '../db/scope.ts';
import { entryBytesFor, logIdOf, type AuditRow } from './entries.ts';

// Any constant shared by every Scanflow process; it names the sequencer's lock in pg_locks.
const SEQUENCER_LOCK_ID = 7_246_031_912;
const LOOKBACK = 20_000;

export interface SequencedBatch {
  /** Entries appended in this pass. */
  appended: number;
  /** Logs that grew. */
  logs: Set<string>;
}

/** One pass: appends up to `limit` waiting audit events; returns what it did. */
export async function sequenceOnce(db: Database, addressKey: Buffer, limit = 5_000): Promise<SequencedBatch> {
  return withSystem(db, async (tx) => {
    await tx.query(`SELECT pg_advisory_xact_lock(${SEQUENCER_LOCK_ID})`);
    const high = await tx.query<{ high: number | null }>(`SELECT max(audit_seq) AS high FROM ledger_entries`);
    const from = Math.max(0, Number(high.rows[0]?.high ?? 0) - LOOKBACK);
    const { rows } = await tx.query<AuditRow>(
      `SELECT a.seq, a.id, a.org_id, a.at, a.actor_user_id, a.actor_role, a.action, a.resource_type, a.resource_id,
              a.outcome, a.client_address, a.reason, a.details
         FROM audit_events a
        WHERE a.seq > $1 AND NOT EXISTS (SELECT 1 FROM ledger_entries l WHERE l.audit_seq = a.seq)
        ORDER BY a.seq
        LIMIT $2`,
      [from, limit],
    );
    if (rows.length === 0) return { appended: 0, logs: new Set<string>() };
    const next = await nextLeafIndexes(tx, [...new Set(rows.map(logIdOf))]);
    const values: unknown[][] = rows.map((row) => {
      const logId = logIdOf(row);
      const index = next.get(logId) ?? 0;
      next.set(logId, index + 1);
      const bytes = entryBytesFor({ ...row, seq: Number(row.seq) }, index, addressKey);
      const details = row.details ?? {};
      return [
        logId,
        index,
        Number(row.seq),
        bytes,
        hashLeaf(bytes),
        typeof details.sha256 === 'string' && /^[0-9a-f]{64}$/.test(details.sha256) ? details.sha256 : null,
        typeof details.verificationCode === 'string' ? details.verificationCode.slice(0, 64) : null,
      ];
    });
    // One statement with one array per column: far cheaper to bind and plan than thousands of
    // row parameters (the difference that matters on PGlite, where the database shares the thread).
    const column = (c: number) => values.map((v) => v[c]);
    await tx.query(
      `INSERT INTO ledger_entries (log_id, leaf_index, audit_seq, entry, leaf_hash, content_sha256, verification_code)
       SELECT * FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::bytea[], $5::bytea[], $6::text[], $7::text[])`,
      [column(0), column(1), column(2), column(3), column(4), column(5), column(6)],
    );
    return { appended: rows.length, logs: new Set(next.keys()) };
  });
}

/** The next free leaf index of each log (its current size). */
export async function nextLeafIndexes(tx: Queryable, logIds: readonly string[]): Promise<Map<string, number>> {
  const { rows } = await tx.query<{ id: string; size: number | null }>(
    `SELECT l.id,
            (SELECT e.leaf_index + 1 FROM ledger_entries e WHERE e.log_id = l.id ORDER BY e.leaf_index DESC LIMIT 1) AS size
       FROM unnest($1::text[]) AS l(id)`,
    [logIds],
  );
  return new Map(rows.map((r) => [r.id, Number(r.size ?? 0)]));
}
