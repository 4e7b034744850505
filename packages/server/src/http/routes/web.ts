/**
 * The web app (packages/web), built by Vite into packages/web/dist and served from `/` by this
 * same process: no second server to run. Unknown non-API paths fall back to index.html so the
 * single-page app's own routes survive a reload.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyPluginAsync } from 'fastify';

export const WEB_DIST = fileURLToPath(new URL('../../../../web/dist/', import.meta.url));

export const webRoutes: FastifyPluginAsync = async (app) => {
  if (!existsSync(`${WEB_DIST}index.html`)) {
    app.get('/', { schema: { hide: true }, config: { auth: false } }, async (_request, reply) =>
      reply
        .type('text/html')
        .send(
          '<!doctype html><title>Scanflow</title><p>The web app has not been built. Run <code>npm run build</code>.</p>',
        ),
    );
    return;
  }
  // The build writes .br and .gz copies of each text asset (packages/web/precompress.ts).
  await app.register(fastifyStatic, {
    root: WEB_DIST,
    prefix: '/',
    wildcard: false,
    index: ['index.html'],
    preCompressed: true,
  });
  app.get('/*', { schema: { hide: true }, config: { auth: false } }, async (request, reply) => {
    if (request.url.startsWith('/api/')) {
      return reply
        .status(404)
        .send({ error: { code: 'not_found', message: `No route for ${request.method} ${request.url.split('?')[0]}` } });
    }
    return reply.sendFile('index.html');
  });
};
