/**
 * The HTTP application. Plugins load in three tiers, as in Fastify's own guidance: external
 * (security headers, rate limits, multipart, OpenAPI), then the app's hooks (authentication once
 * at the root of /api, the audit trail, metrics), then the routes, each with a schema that both
 * validates and documents it.
 */
import fastifyHelmet from '@fastify/helmet';
import fastifyMultipart from '@fastify/multipart';
import fastifyRateLimit from '@fastify/rate-limit';
import fastifySwagger from '@fastify/swagger';
import fastifySwaggerUi from '@fastify/swagger-ui';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { AppError, unauthorized } from '@scanflow/domain';
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import type { AppContext } from '../context.ts';
import { AuthService } from '../services/auth-service.ts';
import { ScanService } from '../services/scan-service.ts';
import { UserService } from '../services/user-service.ts';
import { RenditionService } from '../services/rendition-service.ts';
import { DicomWebService } from '../services/dicomweb-service.ts';
import { DeidentifiedExportService } from '../services/deidentified-export.ts';
import { DiscussionService } from '../services/discussion-service.ts';
import { AnnotationService } from '../services/annotation-service.ts';
import { handleError } from './errors.ts';
import { Metrics } from './metrics.ts';
import type { AuditTarget } from './request-context.ts';
import { ErrorReply, PrescriptionSchema, ScanDetailSchema, ScanSummarySchema } from './schemas.ts';
import { authRoutes } from './routes/auth.ts';
import { scanRoutes } from './routes/scans.ts';
import { reportRoutes } from './routes/reports.ts';
import { analysisRoutes } from './routes/analysis.ts';
import { dicomWebRoutes } from './routes/dicomweb.ts';
import { exportRoutes } from './routes/exports.ts';
import { adminRoutes } from './routes/admin.ts';
import { dicomPeerRoutes } from './routes/dicom-peers.ts';
import { systemRoutes } from './routes/system.ts';
import { webRoutes } from './routes/web.ts';
import { ledgerRoutes } from './routes/ledger.ts';
import { securityRoutes } from './routes/security.ts';
import { discussionRoutes } from './routes/discussion.ts';
import { liveRoutes } from './routes/live.ts';

export interface Services {
  auth: AuthService;
  scans: ScanService;
  users: UserService;
  renditions: RenditionService;
  discussion: DiscussionService;
  annotations: AnnotationService;
  dicomweb: DicomWebService;
  exports: DeidentifiedExportService;
}

export type App = FastifyInstance;

declare module 'fastify' {
  interface FastifyInstance {
    ctx: AppContext;
    services: Services;
    metrics: Metrics;
  }
}

export async function buildApp(ctx: AppContext, options: { logger?: FastifyServerOptions['logger'] } = {}) {
  const app = Fastify({
    logger: options.logger ?? {
      level: ctx.config.logLevel,
      // Never log credentials or bodies; URLs carry only identifiers.
      redact: ['req.headers.authorization', 'req.headers.cookie', 'res.headers["set-cookie"]'],
      serializers: {
        req: (req: { method: string; url: string; id: string }) => ({ method: req.method, url: req.url, id: req.id }),
      },
    },
    trustProxy: ctx.config.trustProxy,
    bodyLimit: 1024 * 1024,
    ajv: { customOptions: { removeAdditional: 'all', coerceTypes: 'array', useDefaults: true, allErrors: false } },
    return503OnClosing: true,
  }).withTypeProvider<TypeBoxTypeProvider>();

  const metrics = new Metrics();
  app.decorate('ctx', ctx);
  app.decorate('metrics', metrics);
  const scans = new ScanService(ctx);
  const renditions = new RenditionService(ctx, scans);
  app.decorate('services', {
    auth: new AuthService(ctx),
    scans,
    users: new UserService(ctx),
    discussion: new DiscussionService(ctx),
    annotations: new AnnotationService(ctx),
    renditions,
    dicomweb: new DicomWebService(ctx, scans, renditions),
    exports: new DeidentifiedExportService(ctx, scans),
  });
  app.decorateRequest('session', null);
  app.decorateRequest('auditTarget', null as unknown as AuditTarget);

  // ---- external plugins ----
  await app.register(fastifyHelmet, {
    contentSecurityPolicy: {
      directives: {
        defaultSrc: ["'self'"],
        imgSrc: ["'self'", 'data:', 'blob:'],
        styleSrc: ["'self'", "'unsafe-inline'"],
        scriptSrc: ["'self'"],
        connectSrc: ["'self'", 'ws:', 'wss:'],
      },
    },
  });
  await app.register(fastifyRateLimit, { global: false });
  await app.register(fastifyMultipart, {
    limits: {
      fileSize: ctx.config.maxUploadBytes,
      files: 50,
      fields: 10,
      fieldSize: 1024,
      parts: 60,
      headerPairs: 100,
    },
  });
  app.addSchema(ErrorReply);
  app.addSchema(PrescriptionSchema);
  app.addSchema(ScanSummarySchema);
  app.addSchema(ScanDetailSchema);
  await app.register(fastifySwagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Scanflow API',
        version: '1.0.0',
        description:
          'Medical-imaging triage: scans in, AI pre-read (decision support, not a diagnosis), worklists, sign-off. ' +
          'Authenticate with POST /api/v1/auth/login and send the access token as `Authorization: Bearer …`.',
      },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } } },
      security: [{ bearer: [] }],
    },
    refResolver: {
      buildLocalReference: (json, _baseUri, _fragment, i) => (typeof json.$id === 'string' ? json.$id : `def-${i}`),
    },
  });
  await app.register(fastifySwaggerUi, { routePrefix: '/api/docs' });

  // ---- app hooks ----
  app.setErrorHandler(handleError);
  app.setNotFoundHandler(async (request, reply) => {
    await reply
      .status(404)
      .send({ error: { code: 'not_found', message: `No route for ${request.method} ${request.url.split('?')[0]}` } });
  });

  app.addHook('onRequest', async (request) => {
    request.auditTarget = {};
  });

  // PostgreSQL text cannot hold NUL; refuse it up front for every parameter, with a clear 400.
  app.addHook('preValidation', async (request) => {
    if (containsNul(request.body) || containsNul(request.query) || containsNul(request.params)) {
      throw new AppError('validation_failed', 'Text in the request must not contain NUL characters');
    }
  });

  // Authenticate once, for every /api and /dicom-web route that does not declare itself public.
  app.addHook('preHandler', async (request) => {
    const config = request.routeOptions.config;
    // An unknown route answers 404 whether or not the caller signed in (`is404`).
    const authenticated = request.url.startsWith('/api/v1/') || request.url.startsWith('/dicom-web/');
    if (!authenticated || config.auth === false || request.is404) return;
    const header = request.headers.authorization;
    const token = header?.startsWith('Bearer ') ? header.slice(7).trim() : undefined;
    if (!token) throw unauthorized('Sign in first: send an access token');
    try {
      request.session = await app.services.auth.authenticate(token);
    } catch (error) {
      // A rejected token (forged, expired, revoked session) is an intrusion signal (SPEC L4).
      request.auditTarget.details = { tokenRejected: true };
      throw error;
    }
  });

  // Every API request that declares an audit action leaves an event, whatever its outcome:
  // successes, refusals (401/403/404) and failures alike.
  app.addHook('onSend', async (request, reply) => {
    const action = request.routeOptions.config.audit;
    if (!action) return;
    const status = reply.statusCode;
    const outcome = status < 400 ? 'success' : [401, 403, 404, 423].includes(status) ? 'denied' : 'failure';
    const target = request.auditTarget;
    const actor = request.session?.actor ?? target.actor;
    const params = request.params as Record<string, string> | undefined;
    try {
      await ctx.audit.record({
        orgId: actor?.orgId ?? null,
        actorUserId: actor?.userId ?? null,
        actorRole: actor?.role ?? null,
        action,
        resourceType: target.resourceType ?? null,
        resourceId: target.resourceId ?? params?.id ?? null,
        outcome,
        clientAddress: request.ip,
        reason: target.reason ?? (status >= 400 ? `HTTP ${status}` : null),
        details: target.details ?? null,
      });
    } catch (error) {
      metrics.auditWriteFailures.inc();
      request.log.error({ err: error }, 'audit write failed');
    }
  });

  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? 'unmatched';
    metrics.requests.inc({ route, method: request.method, status: reply.statusCode });
    metrics.latency.observe({ route, method: request.method }, reply.elapsedTime / 1000);
  });

  // ---- routes ----
  await app.register(systemRoutes);
  await app.register(authRoutes, { prefix: '/api/v1/auth' });
  await app.register(scanRoutes, { prefix: '/api/v1/scans' });
  await app.register(reportRoutes, { prefix: '/api/v1' });
  await app.register(analysisRoutes, { prefix: '/api/v1' });
  await app.register(dicomWebRoutes, { prefix: '/dicom-web' });
  await app.register(exportRoutes, { prefix: '/api/v1/scans' });
  await app.register(adminRoutes, { prefix: '/api/v1' });
  await app.register(securityRoutes, { prefix: '/api/v1' });
  await app.register(ledgerRoutes);
  await app.register(discussionRoutes, { prefix: '/api/v1' });
  await app.register(liveRoutes);
  await app.register(dicomPeerRoutes, { prefix: '/api/v1' });
  app.get('/api/openapi.json', { schema: { hide: true }, config: { auth: false } }, async () => app.swagger());
  await app.register(webRoutes);

  return app;
}

function containsNul(value: unknown, depth = 0): boolean {
  if (typeof value === 'string') return value.includes('\u0000');
  if (depth > 20 || value === null || typeof value !== 'object' || Buffer.isBuffer(value)) return false;
  return Object.entries(value as Record<string, unknown>).some(
    ([k, v]) => k.includes('\u0000') || containsNul(v, depth + 1),
  );
}
