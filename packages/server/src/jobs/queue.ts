/**
 * A durable job queue in the database (SPEC O2): jobs are rows, enqueued in the same transaction
 * as the change that causes them (an upload and its AI pre-read commit together or not at all),
 * claimed with FOR UPDATE SKIP LOCKED so several workers never take the same job, leased so that
 * a job whose worker died is taken again, and retried with exponential back-off.
 */
import type { Database, Queryable } from '../db/database.ts';

export interface Job {
  id: string;
  orgId: string;
  kind: string;
  payload: Record<string, unknown>;
  attempts: number;
  maxAttempts: number;
}

export async function enqueueJob(
  tx: Queryable,
  job: { orgId: string; kind: string; payload: Record<string, unknown> },
): Promise<string> {
  const { rows } = await tx.query<{ id: string }>(
    'INSERT INTO jobs (org_id, kind, payload) VALUES ($1, $2, $3) RETURNING id',
    [job.orgId, job.kind, job.payload],
  );
  return rows[0]!.id;
}

export async function claimJob(
  db: Database,
  kinds: readonly string[],
  leaseSeconds: number,
  /** Only these organisations' jobs (a worker dedicated to some tenants); all when absent. */
  orgIds?: readonly string[],
): Promise<Job | null> {
  return (await claimJobs(db, kinds, leaseSeconds, orgIds, 1))[0] ?? null;
}

/**
 * Claims up to `limit` ready jobs at once, oldest first: one statement for a batch, which is what
 * keeps a full queue cheap on the database (PGlite shares the thread with everything else).
 */
export async function claimJobs(
  db: Database,
  kinds: readonly string[],
  leaseSeconds: number,
  orgIds: readonly string[] | undefined,
  limit: number,
): Promise<Job[]> {
  const { rows } = await db.query<{
    id: string;
    org_id: string;
    kind: string;
    payload: Record<string, unknown>;
    attempts: number;
    max_attempts: number;
    run_after: Date;
    created_at: Date;
  }>(
    `UPDATE jobs SET status = 'running', attempts = attempts + 1, updated_at = now(),
            lease_until = now() + make_interval(secs => $2::int)
      WHERE id IN (
        SELECT id FROM jobs
         WHERE kind = ANY($1::text[]) AND run_after <= now() AND ($3::uuid[] IS NULL OR org_id = ANY($3::uuid[]))
           AND (status = 'queued' OR (status = 'running' AND lease_until < now()))
         ORDER BY run_after, created_at
         LIMIT $4 FOR UPDATE SKIP LOCKED)
      RETURNING id, org_id, kind, payload, attempts, max_attempts, run_after, created_at`,
    [kinds, leaseSeconds, orgIds ?? null, Math.max(1, Math.floor(limit))],
  );
  // RETURNING does not keep the subquery's order.
  return rows
    .sort((a, b) => +a.run_after - +b.run_after || +a.created_at - +b.created_at)
    .map((row) => ({
      id: row.id,
      orgId: row.org_id,
      kind: row.kind,
      payload: row.payload,
      attempts: row.attempts,
      maxAttempts: row.max_attempts,
    }));
}

export async function completeJob(db: Database, id: string): Promise<void> {
  await completeJobs(db, [id]);
}

export async function completeJobs(db: Database, ids: readonly string[]): Promise<void> {
  if (ids.length === 0) return;
  await db.query(`UPDATE jobs SET status = 'done', lease_until = NULL, updated_at = now() WHERE id = ANY($1::uuid[])`, [
    ids,
  ]);
}

/** Retries later (2, 4, 8 … seconds), or gives up for good after the last attempt. */
export async function failJob(db: Database, job: Job, reason: string, permanent: boolean): Promise<'retry' | 'failed'> {
  const final = permanent || job.attempts >= job.maxAttempts;
  await db.query(
    `UPDATE jobs SET status = $2, last_error = $3, lease_until = NULL, updated_at = now(),
            run_after = now() + make_interval(secs => $4::int)
      WHERE id = $1`,
    [job.id, final ? 'failed' : 'queued', reason.slice(0, 500), final ? 0 : 2 ** job.attempts],
  );
  return final ? 'failed' : 'retry';
}
