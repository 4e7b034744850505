/** Health, readiness and metrics (SPEC O3). Public, unaudited, cheap. */
import type { FastifyPluginAsync } from 'fastify';
import { migrationStatus } from '../../db/migrate.ts';

export const systemRoutes: FastifyPluginAsync = async (app) => {
  app.get('/healthz', { schema: { hide: true }, config: { auth: false } }, async () => ({ status: 'ok' }));

  app.get('/readyz', { schema: { hide: true }, config: { auth: false } }, async (_request, reply) => {
    try {
      const status = await migrationStatus(app.ctx.db);
      if (status.pending.length > 0 || status.current !== status.latest) {
        return await reply.status(503).send({ status: 'not_ready', reason: 'database migrations are not current' });
      }
      return { status: 'ready', database: app.ctx.db.kind, schemaVersion: status.current };
    } catch {
      return reply.status(503).send({ status: 'not_ready', reason: 'database unreachable' });
    }
  });

  app.get('/metrics', { schema: { hide: true }, config: { auth: false } }, async (_request, reply) => {
    return reply.header('content-type', app.metrics.registry.contentType).send(await app.metrics.registry.metrics());
  });
};
