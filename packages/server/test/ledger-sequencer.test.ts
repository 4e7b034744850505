/**
 * The sequencer's look-back without re-reading it: each process remembers the gaps below the
 * highest sequenced event. An event that commits late (here: inserted with a `seq` handed out
 * earlier, as a slow transaction's would be) is appended exactly once, whichever process sees it
 * first, and a process whose remembered gap another process filled does not append it again.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../src/db/database.ts';
import { withSystem } from '../src/db/scope.ts';
import { sequenceOnce } from '../src/ledger/sequencer.ts';
import { createUser, startTestApp, uniqueSlug, type TestApp } from './harness.ts';

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp();
});
afterAll(async () => t?.close());

/** Sequences until nothing waits, as one process would. */
async function drain(db: Database): Promise<void> {
  while ((await sequenceOnce(db, t.ctx.keys.ledgerAddressKey, 1_000)).appended > 0);
}

async function recordEvent(orgId: string, action: string, seq?: number): Promise<number> {
  const { rows } = await withSystem(t.ctx.db, (tx) =>
    tx.query<{ seq: number }>(
      seq === undefined
        ? `INSERT INTO audit_events (org_id, action, outcome) VALUES ($1, $2, 'success') RETURNING seq`
        : `INSERT INTO audit_events (seq, org_id, action, outcome) VALUES ($3, $1, $2, 'success') RETURNING seq`,
      seq === undefined ? [orgId, action] : [orgId, action, seq],
    ),
  );
  return Number(rows[0]!.seq);
}

/** A `seq` handed out to a transaction that has not committed yet. */
async function reserveSeq(): Promise<number> {
  const { rows } = await withSystem(t.ctx.db, (tx) =>
    tx.query<{ seq: number }>(`SELECT nextval('audit_events_seq_seq') AS seq`),
  );
  return Number(rows[0]!.seq);
}

async function leaves(orgId: string): Promise<{ audit_seq: number; leaf_index: number }[]> {
  const { rows } = await withSystem(t.ctx.db, (tx) =>
    tx.query<{ audit_seq: number; leaf_index: number }>(
      `SELECT audit_seq, leaf_index FROM ledger_entries WHERE log_id = $1 ORDER BY leaf_index`,
      [orgId],
    ),
  );
  return rows.map((r) => ({ audit_seq: Number(r.audit_seq), leaf_index: Number(r.leaf_index) }));
}

async function auditSeqs(orgId: string): Promise<number[]> {
  const { rows } = await withSystem(t.ctx.db, (tx) =>
    tx.query<{ seq: number }>(`SELECT seq FROM audit_events WHERE org_id = $1 ORDER BY seq`, [orgId]),
  );
  return rows.map((r) => Number(r.seq));
}

describe('the sequencer', () => {
  it('appends late events exactly once, across processes that each remember their own gaps', async () => {
    const { orgId } = await createUser(t, uniqueSlug('seq'), 'doctor');
    // A second process on the same database: its own watermark, the same tables and lock.
    const otherProcess = Object.create(t.ctx.db) as Database;
    await drain(t.ctx.db);
    await drain(otherProcess);

    // One process: the gap it remembered is asked about again on its next pass.
    const lateFirst = await reserveSeq();
    await recordEvent(orgId, 'test.early');
    await drain(t.ctx.db);
    await recordEvent(orgId, 'test.late', lateFirst);
    await drain(t.ctx.db);
    expect((await leaves(orgId)).at(-1)?.audit_seq).toBe(lateFirst);

    const lateA = await reserveSeq();
    const early = await recordEvent(orgId, 'test.early');
    await drain(t.ctx.db); // remembers lateA as a gap
    await recordEvent(orgId, 'test.late', lateA);
    // The other process learns the gaps from the ledger and appends the late event …
    await drain(otherProcess);
    // … and the first, whose remembered gap is now filled, does not append it again.
    await drain(t.ctx.db);

    const lateB = await reserveSeq();
    await recordEvent(orgId, 'test.later');
    await drain(otherProcess);
    await recordEvent(orgId, 'test.late', lateB);
    // Filled after the other process appended past it: found by the first process's re-read.
    await drain(t.ctx.db);
    await drain(otherProcess);

    const log = await leaves(orgId);
    expect(log.map((l) => l.audit_seq).sort((a, b) => a - b)).toEqual(await auditSeqs(orgId));
    expect(log.map((l) => l.leaf_index)).toEqual(log.map((_, i) => i));
    const indexOf = (seq: number) => log.find((l) => l.audit_seq === seq)!.leaf_index;
    // A late event is appended after the later events already in the log.
    expect(indexOf(lateA)).toBeGreaterThan(indexOf(early));
    expect(indexOf(lateB)).toBe(log.length - 1);
  });
});
