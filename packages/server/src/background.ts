/**
 * Background work: the job worker with its handlers (today the AI pre-read). `scanflow serve`
 * runs it beside the HTTP server; `scanflow worker` runs it alone, for deployments that separate
 * web and worker processes over one database.
 */
import { createDecodePool } from '@scanflow/imaging';
import { loadModels, OnnxEngine } from '@scanflow/inference';
import type { FastifyBaseLogger } from 'fastify';
import type { AppContext } from './context.ts';
import { JobWorker } from './jobs/worker.ts';
import { createPrereadHandler } from './services/ai-preread.ts';
import { AI_PREREAD_JOB } from './services/scan-service.ts';

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
  const registry = await loadModels(ctx.config.modelsDir, { active: ctx.config.model });
  for (const problem of registry.errors) log.warn({ folder: problem.folder }, `model not loaded: ${problem.message}`);
  for (const warning of registry.warnings) log.warn(warning);
  const engine = new OnnxEngine(registry.active);
  const decoder = createDecodePool({ size: Math.min(2, ctx.config.aiConcurrency), timeoutMs: 30_000 });
  const worker = new JobWorker(ctx.db, { [AI_PREREAD_JOB]: createPrereadHandler(ctx, engine, decoder) }, log, {
    concurrency: ctx.config.aiConcurrency,
    pollMs: options.pollMs ?? 1000,
    leaseSeconds: 120,
    ...(options.orgIds ? { orgIds: options.orgIds } : {}),
  });
  const wake = () => worker.notify();
  ctx.signals.on('jobs', wake);
  worker.start();
  log.info({ model: engine.model }, 'AI pre-read worker started');
  return {
    worker,
    model: engine.model,
    async stop() {
      ctx.signals.off('jobs', wake);
      await worker.stop();
      await decoder.close();
    },
  };
}
