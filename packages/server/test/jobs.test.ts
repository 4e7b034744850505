/** The durable job queue: queued with the change that causes it, claimed once, leased, retried. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { claimJob, enqueueJob } from '../src/jobs/queue.ts';
import { JobWorker, PermanentJobError } from '../src/jobs/worker.ts';
import { withScope } from '../src/db/scope.ts';
import { bearer, createUser, multipart, startTestApp, uniqueSlug, type TestApp } from './harness.ts';
import { pngBytes } from './fixtures.ts';

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp();
});
afterAll(async () => t?.close());

const silent = { warn: () => undefined, error: () => undefined };
const kind = () => `test_${Math.random().toString(36).slice(2, 10)}`;

async function newJob(orgId: string, k: string, payload: Record<string, unknown> = {}) {
  return withScope(t.ctx.db, { orgId, userId: null, dbRole: 'system' }, (tx) =>
    enqueueJob(tx, { orgId, kind: k, payload }),
  );
}

describe('job queue', () => {
  it('queues the AI pre-read in the same transaction as the upload', async () => {
    const patient = await createUser(t, uniqueSlug(), 'patient');
    const body = multipart([{ name: 'a.png', bytes: await pngBytes(8, 8, 4242) }]);
    const res = await t.app.inject({
      method: 'POST',
      url: '/api/v1/scans',
      payload: body.payload,
      headers: { ...body.headers, ...bearer(patient) },
    });
    const scanId = res.json().scans[0].id;
    const { rows } = await t.ctx.db.query<{ kind: string; status: string }>(
      `SELECT kind, status FROM jobs WHERE payload->>'scanId' = $1`,
      [scanId],
    );
    expect(rows).toEqual([{ kind: 'ai_preread', status: 'queued' }]);
  });

  it('hands each job to exactly one claimant', async () => {
    const admin = await createUser(t, uniqueSlug(), 'admin');
    const k = kind();
    for (let i = 0; i < 6; i++) await newJob(admin.orgId, k, { i });
    const claims = await Promise.all(Array.from({ length: 8 }, () => claimJob(t.ctx.db, [k], 60)));
    const ids = claims.filter((c) => c !== null).map((c) => c.id);
    expect(ids).toHaveLength(6);
    expect(new Set(ids).size).toBe(6);
  });

  it('takes a job again when its lease expires (the worker died)', async () => {
    const admin = await createUser(t, uniqueSlug(), 'admin');
    const k = kind();
    const id = await newJob(admin.orgId, k);
    expect((await claimJob(t.ctx.db, [k], 60))?.id).toBe(id);
    expect(await claimJob(t.ctx.db, [k], 60)).toBeNull();
    await t.ctx.db.query(`UPDATE jobs SET lease_until = now() - interval '1 second' WHERE id = $1`, [id]);
    const again = await claimJob(t.ctx.db, [k], 60);
    expect(again).toMatchObject({ id, attempts: 2 });
  });

  it('retries a failing job with back-off and gives up on a permanent failure', async () => {
    const admin = await createUser(t, uniqueSlug(), 'admin');
    const flaky = kind();
    const broken = kind();
    const flakyId = await newJob(admin.orgId, flaky);
    const brokenId = await newJob(admin.orgId, broken);
    let calls = 0;
    const worker = new JobWorker(
      t.ctx.db,
      {
        [flaky]: async () => {
          calls++;
          if (calls === 1) throw new Error('transient');
        },
        [broken]: async () => {
          throw new PermanentJobError('cannot decode');
        },
      },
      silent,
    );
    expect(await worker.drain()).toBe(2);
    const state = async (id: string) =>
      (
        await t.ctx.db.query<{ status: string; last_error: string | null; attempts: number }>(
          'SELECT status, last_error, attempts FROM jobs WHERE id = $1',
          [id],
        )
      ).rows[0];
    expect(await state(flakyId)).toMatchObject({ status: 'queued', last_error: 'transient', attempts: 1 });
    expect(await state(brokenId)).toMatchObject({ status: 'failed', last_error: 'cannot decode' });
    await t.ctx.db.query(`UPDATE jobs SET run_after = now() WHERE id = $1`, [flakyId]);
    expect(await worker.drain()).toBe(1);
    expect(await state(flakyId)).toMatchObject({ status: 'done', attempts: 2 });
  });

  it('wakes at once when notified, without waiting for the next poll', async () => {
    const admin = await createUser(t, uniqueSlug(), 'admin');
    const k = kind();
    let done: () => void = () => undefined;
    const finished = new Promise<void>((resolve) => (done = resolve));
    const worker = new JobWorker(t.ctx.db, { [k]: async () => done() }, silent, {
      concurrency: 1,
      pollMs: 60_000,
      leaseSeconds: 60,
    });
    worker.start();
    try {
      await new Promise((r) => setTimeout(r, 100)); // the worker is now asleep for a minute
      await newJob(admin.orgId, k);
      const started = Date.now();
      worker.notify();
      await finished;
      expect(Date.now() - started).toBeLessThan(5_000);
    } finally {
      await worker.stop();
    }
  });
});
