/**
 * Runs queued jobs in this process: claims one at a time per slot, hands it to the handler for its
 * kind, and records the outcome. Woken at once when this process enqueues a job, and polls for
 * jobs enqueued elsewhere (other processes sharing the database).
 */
import type { FastifyBaseLogger } from 'fastify';
import type { Database } from '../db/database.ts';
import { claimJob, completeJob, failJob, type Job } from './queue.ts';

/** Thrown by a handler when retrying cannot help (an undecodable file, a missing scan). */
export class PermanentJobError extends Error {}

export type JobHandler = (job: Job) => Promise<void>;

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
    private readonly handlers: Record<string, JobHandler>,
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
    while (await this.runOne()) processed++;
    return processed;
  }

  private async loop(): Promise<void> {
    while (this.running) {
      const worked = await this.runOne().catch((error: unknown) => {
        this.log.error({ err: error }, 'job worker error');
        return false;
      });
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

  private async runOne(): Promise<boolean> {
    const job = await claimJob(this.db, Object.keys(this.handlers), this.options.leaseSeconds, this.options.orgIds);
    if (!job) return false;
    const handler = this.handlers[job.kind]!;
    try {
      await handler(job);
      await completeJob(this.db, job.id);
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      const outcome = await failJob(this.db, job, message, error instanceof PermanentJobError);
      this.log.warn({ jobId: job.id, kind: job.kind, attempt: job.attempts, outcome }, 'job failed');
    }
    return true;
  }
}
