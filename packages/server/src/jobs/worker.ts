/**
 * Runs queued jobs in this process: each slot claims what is ready (a batch, when a kind's handler
 * takes batches), hands it to the handler for its kind, and records each job's outcome. Woken at
 * once when this process enqueues a job, and polls for jobs enqueued elsewhere (other processes
 * sharing the database).
 */
import type { FastifyBaseLogger } from 'fastify';
import type { Database } from '../db/database.ts';
import { claimJobs, completeJob, completeJobs, failJob, type Job } from './queue.ts';

/** Thrown by a handler when retrying cannot help (an undecodable file, a missing scan). */
export class PermanentJobError extends Error {}

export type JobHandler = (job: Job) => Promise<void>;

/**
 * A handler that takes up to `batchSize` jobs of its kind at once, so that their database work can
 * share statements and transactions (the AI pre-read with a full queue). It settles each job on its
 * own: a rejected entry fails that job (PermanentJobError: for good), the rest complete.
 */
export interface BatchJobHandler {
  batchSize: number;
  handleBatch(jobs: readonly Job[]): Promise<PromiseSettledResult<unknown>[]>;
}

export interface WorkerOptions {
  concurrency: number;
  pollMs: number;
  leaseSeconds: number;
  /** Serve only these organisations' jobs (dedicated workers; tests sharing one database). */
  orgIds?: readonly string[];
}

export class JobWorker {
  private running = false;
  /** Idle slots waiting for work: each one's way to wake it early. */
  private readonly idle = new Set<() => void>();
  private loops: Promise<void>[] = [];

  constructor(
    private readonly db: Database,
    private readonly handlers: Record<string, JobHandler | BatchJobHandler>,
    private readonly log: Pick<FastifyBaseLogger, 'warn' | 'error'>,
    private readonly options: WorkerOptions = { concurrency: 1, pollMs: 1000, leaseSeconds: 120 },
  ) {}

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loops = Array.from({ length: this.options.concurrency }, () => this.loop());
  }

  async stop(): Promise<void> {
    this.running = false;
    this.notify();
    await Promise.all(this.loops);
  }

  /** A job was enqueued: every idle slot looks now rather than at its next poll (a slot that
   * finds nothing goes back to waiting; one wake per enqueue would leave the other slots asleep). */
  notify(): void {
    const waiting = [...this.idle];
    this.idle.clear();
    for (const wake of waiting) wake();
  }

  /** Processes jobs until none is ready (for tests and the CLI). */
  async drain(): Promise<number> {
    let processed = 0;
    for (let n = await this.runOne(); n > 0; n = await this.runOne()) processed += n;
    return processed;
  }

  private async loop(): Promise<void> {
    while (this.running) {
      const worked = await this.runOne().then(
        (n) => n > 0,
        (error: unknown) => {
          this.log.error({ err: error }, 'job worker error');
          return false;
        },
      );
      if (!worked && this.running) {
        await new Promise<void>((resolve) => {
          const wake = () => {
            clearTimeout(timer);
            this.idle.delete(wake);
            resolve();
          };
          const timer = setTimeout(wake, this.options.pollMs);
          this.idle.add(wake);
        });
      }
    }
  }

  /** Claims and runs what is ready; the number of jobs it ran (0: none was ready). */
  private async runOne(): Promise<number> {
    const limit = Math.max(1, ...Object.values(this.handlers).map((h) => (typeof h === 'function' ? 1 : h.batchSize)));
    const jobs = await claimJobs(
      this.db,
      Object.keys(this.handlers),
      this.options.leaseSeconds,
      this.options.orgIds,
      limit,
    );
    if (jobs.length === 0) return 0;
    for (const [kind, group] of groupByKind(jobs)) {
      const handler = this.handlers[kind]!;
      if (typeof handler === 'function') {
        for (const job of group) {
          try {
            await handler(job);
            await completeJob(this.db, job.id);
          } catch (error) {
            await this.fail(job, error);
          }
        }
        continue;
      }
      const outcomes = await handler
        .handleBatch(group)
        .catch((error: unknown) =>
          group.map((): PromiseSettledResult<unknown> => ({ status: 'rejected', reason: error })),
        );
      const done: string[] = [];
      for (const [i, job] of group.entries()) {
        const outcome = outcomes[i];
        if (outcome?.status === 'fulfilled') done.push(job.id);
        else await this.fail(job, outcome ? outcome.reason : new Error('The batch handler gave no outcome'));
      }
      await completeJobs(this.db, done);
    }
    return jobs.length;
  }

  private async fail(job: Job, error: unknown): Promise<void> {
    const message = error instanceof Error ? error.message : String(error);
    const outcome = await failJob(this.db, job, message, error instanceof PermanentJobError);
    this.log.warn({ jobId: job.id, kind: job.kind, attempt: job.attempts, outcome }, 'job failed');
  }
}

/** Jobs grouped by kind, each group in claim order. */
function groupByKind(jobs: readonly Job[]): Map<string, Job[]> {
  const groups = new Map<string, Job[]>();
  for (const job of jobs) groups.set(job.kind, [...(groups.get(job.kind) ?? []), job]);
  return groups;
}
