/**
 * Background work: the job worker with its handlers (today the AI pre-read), and the check for
 * urgent cases no doctor has opened. `scanflow serve`
 * runs it beside the HTTP server; `scanflow worker` runs it alone, for deployments that separate
 * web and worker processes over one database.
 */
import { availableParallelism } from 'node:os';
import { createDecodePool } from '@scanflow/imaging';
import { OnnxEngine } from '@scanflow/inference';
import type { FastifyBaseLogger } from 'fastify';
import type { AppContext } from './context.ts';
import { JobWorker } from './jobs/worker.ts';
import { reportJobHandlers } from './services/report-jobs.ts';
import { closeMailer } from './services/report-delivery.ts';
import { createPrereadHandler } from './services/ai-preread.ts';
import { modelRegistry } from './services/model-catalog.ts';
import { raiseUrgentUnopenedAlerts } from './services/urgent-alerts.ts';
import { AI_PREREAD_JOB } from './services/scan-service.ts';
import { ledgerFor } from './services/ledger-service.ts';

export interface BackgroundWork {
  worker: JobWorker;
  model: { name: string; version: string };
  stop(): Promise<void>;
}

export async function startBackgroundWork(
  ctx: AppContext,
  log: Pick<FastifyBaseLogger, 'info' | 'warn' | 'error'>,
  options: { pollMs?: number; orgIds?: readonly string[] } = {},
): Promise<BackgroundWork> {
  const registry = await modelRegistry(ctx.config);
  for (const problem of registry.errors) log.warn({ folder: problem.folder }, `model not loaded: ${problem.message}`);
  for (const warning of registry.warnings) log.warn(warning);
  const engine = new OnnxEngine(registry.active);
  // A thread per core at most (each runs a whole analysis: decode, model, heatmaps); AI_CONCURRENCY
  // batches in flight keep them busy while the main thread records the previous batch.
  const decoder = createDecodePool({
    size: Math.min(availableParallelism(), ctx.config.aiConcurrency),
    timeoutMs: 30_000,
  });
  const handlers = { [AI_PREREAD_JOB]: createPrereadHandler(ctx, engine, decoder), ...reportJobHandlers(ctx) };
  const worker = new JobWorker(ctx.db, handlers, log, {
    concurrency: ctx.config.aiConcurrency,
    pollMs: options.pollMs ?? 1000,
    leaseSeconds: 120,
    ...(options.orgIds ? { orgIds: options.orgIds } : {}),
  });
  const wake = () => worker.notify();
  ctx.signals.on('jobs', wake);
  worker.start();
  // Unopened urgent cases: checked every half minute (alerts are due in minutes, not seconds).
  const alerts = setInterval(() => {
    raiseUrgentUnopenedAlerts(ctx).catch((error: unknown) => log.error({ err: error }, 'urgent-case check failed'));
  }, 30_000);
  alerts.unref();
  log.info({ model: engine.model }, 'AI pre-read worker started');
  // The tamper-evident log's sequencer and checkpoints run wherever background work runs.
  const ledger = ledgerFor(ctx).start(log);
  return {
    worker,
    model: engine.model,
    async stop() {
      ctx.signals.off('jobs', wake);
      clearInterval(alerts);
      await worker.stop();
      closeMailer(ctx);
      await ledger.stop();
      await decoder.close();
    },
  };
}
