/** Admin functions (each needs a second factor): users, clinician verification, outbox, audit trail. */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type, type Static } from 'typebox';
import { errorReplies, Uuid } from '../schemas.ts';
import { sessionOf } from '../request-context.ts';
import { listAuditEvents } from '../../audit/audit-log.ts';
import { listOutbox } from '../../services/outbox.ts';
import type { AuthenticatedSession } from '../../services/auth-service.ts';
import { inOrganisation } from '../../services/access.ts';

const UserView = Type.Object({
  id: Type.String(),
  email: Type.String(),
  name: Type.String(),
  role: Type.String(),
  status: Type.String(),
  licenceNumber: Type.Union([Type.String(), Type.Null()]),
  licenceJurisdiction: Type.Union([Type.String(), Type.Null()]),
  clinicianVerified: Type.Boolean(),
  totpEnabled: Type.Boolean(),
  createdAt: Type.String(),
});

const Nullable = (schema: ReturnType<typeof Type.String>) => Type.Union([schema, Type.Null()]);

export const adminRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const users = app.services.users;

  app.get(
    '/admin/users',
    {
      config: { audit: 'user.list' },
      schema: {
        tags: ['admin'],
        summary: 'Users of the organisation; pending=true lists clinicians awaiting licence verification',
        querystring: Type.Object({
          role: Type.Optional(Type.Union(['patient', 'doctor', 'pharmacist', 'admin'].map((r) => Type.Literal(r)))),
          pending: Type.Optional(Type.Boolean()),
          limit: Type.Integer({ minimum: 1, maximum: 500, default: 100 }),
          offset: Type.Integer({ minimum: 0, maximum: 1_000_000, default: 0 }),
        }),
        response: { 200: Type.Object({ items: Type.Array(UserView) }), ...errorReplies(401, 403) },
      },
    },
    async (request) => {
      const q = request.query;
      const items = await users.list(sessionOf(request), {
        role: q.role,
        pendingVerification: q.pending,
        limit: q.limit,
        offset: q.offset,
      });
      return { items };
    },
  );

  const userAction = (
    path: string,
    audit: string,
    summary: string,
    act: (s: AuthenticatedSession, id: string) => Promise<Static<typeof UserView>>,
  ) =>
    app.post(
      `/admin/users/:id/${path}`,
      {
        config: { audit },
        schema: {
          tags: ['admin'],
          summary,
          params: Type.Object({ id: Uuid }),
          response: { 200: UserView, ...errorReplies(400, 401, 403, 404, 409) },
        },
      },
      async (request) => {
        request.auditTarget = { resourceType: 'user', resourceId: request.params.id };
        return act(sessionOf(request), request.params.id);
      },
    );

  userAction('verify', 'user.verify_clinician', "Verify a doctor's or pharmacist's licence", (s, id) =>
    users.verifyClinician(s, id),
  );
  userAction('disable', 'user.disable', 'Disable an account (ends its sessions)', (s, id) =>
    users.setDisabled(s, id, true),
  );
  userAction('enable', 'user.enable', 'Re-enable an account', (s, id) => users.setDisabled(s, id, false));
  userAction(
    'reset-second-factor',
    'user.reset_second_factor',
    "Clear a user's authenticator (they enrol again)",
    (s, id) => users.resetSecondFactor(s, id),
  );

  app.get(
    '/admin/outbox',
    {
      config: { audit: 'outbox.read' },
      schema: {
        tags: ['admin'],
        summary: 'Mail waiting in (or delivered through) the outbox',
        querystring: Type.Object({ limit: Type.Integer({ minimum: 1, maximum: 500, default: 100 }) }),
        response: {
          200: Type.Object({
            items: Type.Array(
              Type.Object({
                id: Type.String(),
                kind: Type.String(),
                to: Type.String(),
                subject: Type.String(),
                body: Type.String(),
                status: Type.String(),
                createdAt: Type.String(),
                attachment: Type.Union([Type.Object({ name: Type.String(), type: Type.String() }), Type.Null()]),
              }),
            ),
          }),
          ...errorReplies(401, 403),
        },
      },
    },
    async (request) => ({
      items: await inOrganisation(app.ctx.db, sessionOf(request), 'outbox.read', (tx) =>
        listOutbox(tx, app.ctx.cipher, request.query.limit),
      ),
    }),
  );

  app.get(
    '/audit',
    {
      config: { audit: 'audit.read' },
      schema: {
        tags: ['admin'],
        summary: "The organisation's audit trail, newest first (page with `before`)",
        querystring: Type.Object({
          action: Type.Optional(Type.String({ maxLength: 100 })),
          actorUserId: Type.Optional(Uuid),
          resourceId: Type.Optional(Type.String({ maxLength: 2000 })),
          outcome: Type.Optional(
            Type.Union([Type.Literal('success'), Type.Literal('denied'), Type.Literal('failure')]),
          ),
          from: Type.Optional(Type.String({ format: 'date-time' })),
          to: Type.Optional(Type.String({ format: 'date-time' })),
          before: Type.Optional(Type.Integer({ minimum: 1 })),
          limit: Type.Integer({ minimum: 1, maximum: 1000, default: 100 }),
        }),
        response: {
          200: Type.Object({
            items: Type.Array(
              Type.Object({
                seq: Type.Integer(),
                id: Type.String(),
                at: Type.String(),
                actorUserId: Nullable(Type.String()),
                actorRole: Nullable(Type.String()),
                action: Type.String(),
                resourceType: Nullable(Type.String()),
                resourceId: Nullable(Type.String()),
                outcome: Type.String(),
                clientAddress: Nullable(Type.String()),
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
      const items = await inOrganisation(app.ctx.db, sessionOf(request), 'audit.read', (tx) =>
        listAuditEvents(tx, {
          action: q.action,
          actorUserId: q.actorUserId,
          resourceId: q.resourceId,
          outcome: q.outcome,
          from: q.from,
          to: q.to,
          beforeSeq: q.before,
          limit: q.limit,
        }),
      );
      return { items };
    },
  );
};
