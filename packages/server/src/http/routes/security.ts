/** Intrusion signals and alerts for administrators (SPEC L3, L4); each read needs a second factor. */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { AppError } from '@scanflow/domain';
import { Type } from 'typebox';
import { errorReplies } from '../schemas.ts';
import { sessionOf } from '../request-context.ts';
import { inOrganisation } from '../../services/access.ts';
import { listAlerts, securitySignals } from '../../services/security-signals.ts';

const Nullable = <T extends ReturnType<typeof Type.String>>(schema: T) => Type.Union([schema, Type.Null()]);
const Counted = <T extends Record<string, ReturnType<typeof Nullable> | ReturnType<typeof Type.String>>>(props: T) =>
  Type.Array(Type.Object({ ...props, count: Type.Integer() }));

const DAY_MS = 86_400_000;

export const securityRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get(
    '/admin/security-signals',
    {
      config: { audit: 'security.read' },
      schema: {
        tags: ['admin'],
        summary:
          'Failed sign-ins, lockouts, refused accesses, rejected tokens and integrity failures: ' +
          'per user, per address and per hour or day (default: the last 24 hours)',
        querystring: Type.Object({
          from: Type.Optional(Type.String({ format: 'date-time' })),
          to: Type.Optional(Type.String({ format: 'date-time' })),
          bucket: Type.Union([Type.Literal('hour'), Type.Literal('day')], { default: 'hour' }),
          limit: Type.Integer({ minimum: 1, maximum: 500, default: 50 }),
        }),
        response: {
          200: Type.Object({
            from: Type.String(),
            to: Type.String(),
            total: Type.Integer(),
            byAction: Counted({ action: Type.String(), outcome: Type.String() }),
            byUser: Counted({ actorUserId: Nullable(Type.String()) }),
            byAddress: Counted({ clientAddress: Nullable(Type.String()) }),
            overTime: Counted({ start: Type.String() }),
            recent: Type.Array(
              Type.Object({
                seq: Type.Integer(),
                at: Type.String(),
                action: Type.String(),
                outcome: Type.String(),
                actorUserId: Nullable(Type.String()),
                clientAddress: Nullable(Type.String()),
                resourceType: Nullable(Type.String()),
                resourceId: Nullable(Type.String()),
                reason: Nullable(Type.String()),
              }),
            ),
          }),
          ...errorReplies(400, 401, 403),
        },
      },
    },
    async (request) => {
      const q = request.query;
      const to = q.to ? new Date(q.to) : new Date();
      const from = q.from ? new Date(q.from) : new Date(to.getTime() - DAY_MS);
      if (!(from < to)) throw new AppError('bad_request', '`from` must be before `to`');
      return inOrganisation(app.ctx.db, sessionOf(request), 'security.read', (tx) =>
        securitySignals(tx, { from: from.toISOString(), to: to.toISOString(), bucket: q.bucket, limit: q.limit }),
      );
    },
  );

  app.get(
    '/admin/alerts',
    {
      config: { audit: 'security.read' },
      schema: {
        tags: ['admin'],
        summary:
          "Alerts: scans whose image failed its hash, this node's log history changing, witnesses refusing or seeing a split view",
        querystring: Type.Object({ limit: Type.Integer({ minimum: 1, maximum: 500, default: 100 }) }),
        response: {
          200: Type.Object({
            items: Type.Array(
              Type.Object({
                id: Type.String(),
                kind: Type.String(),
                scope: Type.Union([Type.Literal('organisation'), Type.Literal('node')]),
                resourceType: Nullable(Type.String()),
                resourceId: Nullable(Type.String()),
                details: Type.Union([Type.Record(Type.String(), Type.Unknown()), Type.Null()]),
                createdAt: Type.String(),
              }),
            ),
          }),
          ...errorReplies(401, 403),
        },
      },
    },
    async (request) => ({
      items: await inOrganisation(app.ctx.db, sessionOf(request), 'security.read', (tx) =>
        listAlerts(tx, request.query.limit),
      ),
    }),
  );
};
