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
 *
 * The look-back without re-reading it. Every `seq` at or below the highest sequenced one is either
 * in a log already or a gap: a transaction still open, or one rolled back. Each process keeps the
 * gaps of the look-back window it has seen (`Watermark`), so a pass asks the database only about
 * those few `seq`s (one index probe each) and about events above the highest; it re-learns the
 * gaps from the ledger's `audit_seq` index whenever another process has appended since its last
 * pass, or on its first. A gap that another process has since filled is probed and skipped; the
 * UNIQUE (audit_seq) constraint still refuses a second leaf for one event whatever happens.
 */
import { hashLeaf } from '@scanflow/ledger';
import type { Database, Queryable } from '../db/database.ts';
import { withSystem } from '../db/scope.ts';
import { entryBytesFor, logIdOf, type AuditRow } from './entries.ts';

// Any constant shared by every Scanflow process; it names the sequencer's lock in pg_locks.
const SEQUENCER_LOCK_ID = 7_246_031_912;
const LOOKBACK = 20_000;

const AUDIT_COLUMNS = `a.seq, a.id, a.org_id, a.at, a.actor_user_id, a.actor_role, a.action, a.resource_type,
                       a.resource_id, a.outcome, a.client_address, a.reason, a.details`;

export interface SequencedBatch {
  /** Entries appended in this pass. */
  appended: number;
  /** Logs that grew. */
  logs: Set<string>;
}

/** What this process knows after its last pass: the highest sequenced `seq`, and the gaps below it. */
interface Watermark {
  high: number;
  /** `seq`s in (high − LOOKBACK, high] that were in no log when last seen, ascending. */
  gaps: number[];
}

const watermarks = new WeakMap<Database, Watermark>();

/** One pass: appends up to `limit` waiting audit events; returns what it did. */
export async function sequenceOnce(db: Database, addressKey: Buffer, limit = 5_000): Promise<SequencedBatch> {
  const known = watermarks.get(db);
  if (known && (await nothingNew(db, known))) return { appended: 0, logs: new Set<string>() };
  const { batch, watermark } = await withSystem(db, async (tx) => {
    await tx.query(`SELECT pg_advisory_xact_lock(${SEQUENCER_LOCK_ID})`);
    const high = await tx.query<{ high: number | null }>(`SELECT max(audit_seq) AS high FROM ledger_entries`);
    const seen = await gapsBelow(tx, Number(high.rows[0]?.high ?? 0), watermarks.get(db));
    // Late events first (each was due before the newer ones), then the newer ones in `seq` order.
    const late = seen.gaps.length
      ? (
          await tx.query<AuditRow>(
            `SELECT ${AUDIT_COLUMNS} FROM audit_events a
              WHERE a.seq = ANY($1::bigint[]) AND NOT EXISTS (SELECT 1 FROM ledger_entries l WHERE l.audit_seq = a.seq)
              ORDER BY a.seq LIMIT $2`,
            [seen.gaps, limit],
          )
        ).rows
      : [];
    const fresh =
      late.length < limit
        ? (
            await tx.query<AuditRow>(
              `SELECT ${AUDIT_COLUMNS} FROM audit_events a WHERE a.seq > $1 ORDER BY a.seq LIMIT $2`,
              [seen.high, limit - late.length],
            )
          ).rows
        : [];
    const rows = [...late, ...fresh];
    const after = advance(seen, late, fresh);
    if (rows.length === 0) return { batch: { appended: 0, logs: new Set<string>() }, watermark: after };
    const next = await nextLeafIndexes(tx, [...new Set(rows.map(logIdOf))]);
    const values: unknown[][] = rows.map((row) => {
      const logId = logIdOf(row);
      const index = next.get(logId) ?? 0;
      next.set(logId, index + 1);
      const bytes = entryBytesFor({ ...row, seq: Number(row.seq) }, index, addressKey);
      // Only a report's leaf is ever looked up by its hash or code (findReportBy*).
      const details = row.action === 'report.issued' ? (row.details ?? {}) : {};
      return [
        logId,
        index,
        Number(row.seq),
        hex(bytes),
        hex(hashLeaf(bytes)),
        typeof details.sha256 === 'string' && /^[0-9a-f]{64}$/.test(details.sha256) ? details.sha256 : null,
        typeof details.verificationCode === 'string' ? details.verificationCode.slice(0, 64) : null,
      ];
    });
    // One statement with one array per column: far cheaper to bind and plan than thousands of
    // row parameters (the difference that matters on PGlite, where the database shares the thread).
    // Bytes travel as hex text: PGlite's own bytea serialiser formats them a byte at a time in
    // JavaScript, several times slower than Node's native hex encoder.
    const column = (c: number) => values.map((v) => v[c]);
    await tx.query(
      `INSERT INTO ledger_entries (log_id, leaf_index, audit_seq, entry, leaf_hash, content_sha256, verification_code)
       SELECT log_id, leaf_index, audit_seq, decode(entry, 'hex'), decode(leaf_hash, 'hex'), content_sha256, verification_code
         FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::text[], $5::text[], $6::text[], $7::text[])
              AS v(log_id, leaf_index, audit_seq, entry, leaf_hash, content_sha256, verification_code)`,
      [column(0), column(1), column(2), column(3), column(4), column(5), column(6)],
    );
    return { batch: { appended: rows.length, logs: new Set(next.keys()) }, watermark: after };
  });
  // Only a committed pass moves the watermark: after a rollback the old one is still true.
  watermarks.set(db, watermark);
  return batch;
}

/**
 * Whether a pass would find nothing: no event above the highest this process sequenced, and none
 * of its remembered gaps filled. One statement and no lock, where a pass takes a transaction and
 * four: the sequencer runs ten times a second, and on PGlite every statement shares the thread
 * with the requests. (Another process's appends show as events above `high`: a pass then runs.)
 */
async function nothingNew(db: Database, known: Watermark): Promise<boolean> {
  const { rows } = await db.query<{ idle: boolean }>(
    `SELECT coalesce((SELECT max(seq) FROM audit_events), 0) <= $1
            AND NOT EXISTS (SELECT 1 FROM audit_events WHERE seq = ANY($2::bigint[])) AS idle`,
    [known.high, known.gaps],
  );
  return rows[0]?.idle === true;
}

/**
 * The watermark at the ledger's current highest `seq`: the remembered one when this process made
 * the last append, else the remembered gaps plus those the ledger shows above them.
 */
async function gapsBelow(tx: Queryable, high: number, known: Watermark | undefined): Promise<Watermark> {
  const floor = Math.max(0, high - LOOKBACK);
  const kept = known && known.high <= high ? known.gaps.filter((seq) => seq > floor) : [];
  if (known?.high === high) return { high, gaps: kept };
  const from = known && known.high <= high ? Math.max(floor, known.high) : floor;
  const { rows } = await tx.query<{ audit_seq: number }>(
    `SELECT audit_seq FROM ledger_entries WHERE audit_seq > $1 AND audit_seq <= $2 ORDER BY audit_seq`,
    [from, high],
  );
  const present = rows.map((r) => Number(r.audit_seq));
  return { high, gaps: [...kept, ...missing(from, high, present)] };
}

/** The watermark after appending `late` (gaps now filled) and `fresh` (events above the old high). */
function advance(seen: Watermark, late: readonly AuditRow[], fresh: readonly AuditRow[]): Watermark {
  const filled = new Set(late.map((row) => Number(row.seq)));
  const last = fresh.at(-1);
  const high = last ? Number(last.seq) : seen.high;
  const floor = Math.max(0, high - LOOKBACK);
  const gaps = seen.gaps.filter((seq) => seq > floor && !filled.has(seq));
  const above = missing(
    Math.max(floor, seen.high),
    high,
    fresh.map((row) => Number(row.seq)),
  );
  return { high, gaps: [...gaps, ...above] };
}

/** The integers in (from, to] absent from `present` (ascending, within that range). */
function missing(from: number, to: number, present: readonly number[]): number[] {
  const out: number[] = [];
  let expected = from + 1;
  for (const seq of present) {
    if (seq <= from) continue;
    for (; expected < seq && expected <= to; expected++) out.push(expected);
    expected = Math.max(expected, seq + 1);
  }
  for (; expected <= to; expected++) out.push(expected);
  return out;
}

function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
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
