/**
 * A case's discussion (SPEC C2): chat, second-opinion requests and shared annotations. Each
 * change also reaches other clinicians live over GET /api/v1/live (see routes/live.ts).
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { toGeometry, MAX_ANNOTATION_LABEL } from '@scanflow/domain';
import { errorReplies, Uuid } from '../schemas.ts';
import { sessionOf } from '../request-context.ts';
import { MAX_MESSAGE_LENGTH } from '../../services/discussion-service.ts';

const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(schema: T) => Type.Union([schema, Type.Null()]);
const Iso = Type.String({ format: 'date-time' });
const Person = Type.Object({ id: Uuid, name: Type.String(), role: Type.String() });
const Point = Type.Object(
  { x: Type.Number(), y: Type.Number() },
  { description: 'Image pixel coordinates: x to the right, y down, (0, 0) the top-left corner' },
);
const Kind = Type.Union([Type.Literal('arrow'), Type.Literal('ellipse'), Type.Literal('length')]);

export const CaseMessageSchema = Type.Object(
  {
    id: Uuid,
    scanId: Uuid,
    author: Person,
    text: Type.String(),
    secondOpinionId: Nullable(Uuid),
    createdAt: Iso,
  },
  { $id: 'CaseMessage' },
);

export const SecondOpinionSchema = Type.Object(
  {
    id: Uuid,
    scanId: Uuid,
    requestedBy: Person,
    requestedOf: Person,
    status: Type.Union([Type.Literal('requested'), Type.Literal('answered'), Type.Literal('declined')]),
    note: Nullable(Type.String()),
    response: Nullable(Type.String()),
    createdAt: Iso,
    respondedAt: Nullable(Iso),
    scan: Type.Object({ status: Type.String(), priority: Nullable(Type.String()) }),
  },
  { $id: 'SecondOpinion' },
);

// One object whose fields depend on `kind` (a union would not survive the validator's removal of
// unknown fields); the domain checks the fields each kind needs.
const GeometrySchema = Type.Object(
  {
    kind: Kind,
    from: Type.Optional(Point),
    to: Type.Optional(Point),
    center: Type.Optional(Point),
    radiusX: Type.Optional(Type.Number()),
    radiusY: Type.Optional(Type.Number()),
  },
  {
    description:
      'arrow: from (tail) and to (head); length: from and to; ellipse: center, radiusX, radiusY. ' +
      'Every point must lie inside the image.',
  },
);

export const AnnotationSchema = Type.Object(
  {
    id: Uuid,
    scanId: Uuid,
    kind: Kind,
    geometry: GeometrySchema,
    frame: Type.Integer(),
    label: Nullable(Type.String()),
    measurement: Nullable(
      Type.Object(
        { value: Type.Number(), unit: Type.Union([Type.Literal('mm'), Type.Literal('px')]) },
        { description: "Lengths only: mm where the image's pixel spacing is known, else px" },
      ),
    ),
    author: Type.Object({ id: Uuid, name: Type.String() }),
    version: Type.Integer({ description: 'Send it back with an edit or a deletion (optimistic concurrency)' }),
    deleted: Type.Boolean(),
    createdAt: Iso,
    updatedAt: Iso,
  },
  { $id: 'Annotation' },
);

const AnnotationBody = Type.Object({
  geometry: GeometrySchema,
  frame: Type.Optional(Type.Integer({ minimum: 0, description: 'Frame of a multi-frame image (default 0)' })),
  label: Type.Optional(Type.String({ maxLength: MAX_ANNOTATION_LABEL })),
});

const ScanParams = Type.Object({ id: Uuid });

export const discussionRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { discussion, annotations } = app.services;
  app.addSchema(CaseMessageSchema);
  app.addSchema(SecondOpinionSchema);
  app.addSchema(AnnotationSchema);

  // ---- chat ----
  app.get(
    '/scans/:id/messages',
    {
      config: { audit: 'discussion.read' },
      schema: {
        tags: ['discussion'],
        summary: "The case's chat, oldest first (clinicians who can see the case)",
        params: ScanParams,
        querystring: Type.Object({
          after: Type.Optional(Type.String({ format: 'uuid', description: 'Continue after this message id' })),
          limit: Type.Integer({ minimum: 1, maximum: 500, default: 200 }),
        }),
        response: { 200: Type.Object({ items: Type.Array(Type.Ref('CaseMessage')) }), ...errorReplies(401, 403, 404) },
      },
    },
    async (request) => {
      const items = await discussion.listMessages(sessionOf(request), request.params.id, request.query);
      request.auditTarget = { resourceType: 'scan', details: { messages: items.length } };
      return { items };
    },
  );

  app.post(
    '/scans/:id/messages',
    {
      config: { audit: 'discussion.post' },
      schema: {
        tags: ['discussion'],
        summary: 'Post a message to the case chat',
        params: ScanParams,
        body: Type.Object({ text: Type.String({ minLength: 1, maxLength: MAX_MESSAGE_LENGTH }) }),
        response: { 201: Type.Ref('CaseMessage'), ...errorReplies(400, 401, 403, 404) },
      },
    },
    async (request, reply) => {
      const message = await discussion.postMessage(sessionOf(request), request.params.id, request.body.text);
      request.auditTarget = { resourceType: 'scan', details: { messageId: message.id } };
      return reply.status(201).send(message);
    },
  );

  // ---- second opinions ----
  app.get(
    '/scans/:id/second-opinions',
    {
      config: { audit: 'second_opinion.list' },
      schema: {
        tags: ['discussion'],
        summary: "The case's second-opinion requests",
        params: ScanParams,
        response: {
          200: Type.Object({ items: Type.Array(Type.Ref('SecondOpinion')) }),
          ...errorReplies(401, 403, 404),
        },
      },
    },
    async (request) => ({ items: await discussion.listForCase(sessionOf(request), request.params.id) }),
  );

  app.post(
    '/scans/:id/second-opinions',
    {
      config: { audit: 'second_opinion.request' },
      schema: {
        tags: ['discussion'],
        summary: 'Ask a named doctor of the organisation for a second opinion on the case',
        description: 'The doctor must have a verified licence. They see it in GET /second-opinions?assigned=me.',
        params: ScanParams,
        body: Type.Object({
          doctorId: Uuid,
          note: Type.Optional(Type.String({ maxLength: MAX_MESSAGE_LENGTH })),
        }),
        response: { 201: Type.Ref('SecondOpinion'), ...errorReplies(400, 401, 403, 404, 409) },
      },
    },
    async (request, reply) => {
      const created = await discussion.requestSecondOpinion(sessionOf(request), request.params.id, request.body);
      request.auditTarget = {
        resourceType: 'scan',
        details: { requestId: created.id, doctorId: created.requestedOf.id },
      };
      return reply.status(201).send(created);
    },
  );

  app.get(
    '/second-opinions',
    {
      config: { audit: 'second_opinion.list_assigned' },
      schema: {
        tags: ['discussion'],
        summary: "Second-opinion requests addressed to the caller (the doctor's worklist); open ones first",
        querystring: Type.Object({
          assigned: Type.Literal('me'),
          status: Type.Optional(
            Type.Union([Type.Literal('requested'), Type.Literal('answered'), Type.Literal('declined')]),
          ),
          limit: Type.Integer({ minimum: 1, maximum: 500, default: 100 }),
        }),
        response: {
          200: Type.Object({ items: Type.Array(Type.Ref('SecondOpinion')) }),
          ...errorReplies(400, 401, 403),
        },
      },
    },
    async (request) => ({ items: await discussion.listAssigned(sessionOf(request), request.query) }),
  );

  app.get(
    '/second-opinions/doctors',
    {
      config: { audit: 'second_opinion.list_doctors' },
      schema: {
        tags: ['discussion'],
        summary: 'The doctors a second opinion can be asked of (verified, active, not the caller)',
        response: { 200: Type.Object({ items: Type.Array(Person) }), ...errorReplies(401, 403) },
      },
    },
    async (request) => ({ items: await discussion.listDoctors(sessionOf(request)) }),
  );

  const respond = (decision: 'answer' | 'decline') =>
    app.post(
      `/second-opinions/:id/${decision}`,
      {
        config: { audit: `second_opinion.${decision}` },
        schema: {
          tags: ['discussion'],
          summary:
            decision === 'answer'
              ? 'Answer a request addressed to you; the answer is also posted to the case chat'
              : 'Decline a request addressed to you, optionally saying why',
          params: ScanParams,
          body: Type.Object({
            text:
              decision === 'answer'
                ? Type.String({ minLength: 1, maxLength: MAX_MESSAGE_LENGTH })
                : Type.Optional(Type.String({ maxLength: MAX_MESSAGE_LENGTH })),
          }),
          response: { 200: Type.Ref('SecondOpinion'), ...errorReplies(400, 401, 403, 404, 409) },
        },
      },
      async (request) => {
        request.auditTarget = { resourceType: 'second_opinion' };
        const body = request.body as { text?: string };
        return discussion.respond(sessionOf(request), request.params.id, { decision, text: body.text });
      },
    );
  respond('answer');
  respond('decline');

  // ---- annotations ----
  app.get(
    '/scans/:id/annotations',
    {
      config: { audit: 'annotation.list' },
      schema: {
        tags: ['discussion'],
        summary: "The case's shared annotations (withdrawn ones are left out)",
        params: ScanParams,
        response: { 200: Type.Object({ items: Type.Array(Type.Ref('Annotation')) }), ...errorReplies(401, 403, 404) },
      },
    },
    async (request) => ({ items: await annotations.list(sessionOf(request), request.params.id) }),
  );

  app.post(
    '/scans/:id/annotations',
    {
      config: { audit: 'annotation.create' },
      schema: {
        tags: ['discussion'],
        summary: 'Draw an arrow, ellipse or length measurement on the image (doctors)',
        params: ScanParams,
        body: AnnotationBody,
        response: { 201: Type.Ref('Annotation'), ...errorReplies(400, 401, 403, 404) },
      },
    },
    async (request, reply) => {
      const body = request.body;
      const created = await annotations.create(sessionOf(request), request.params.id, {
        geometry: toGeometry(body.geometry),
        frame: body.frame,
        label: body.label,
      });
      request.auditTarget = { resourceType: 'scan', details: { annotationId: created.id } };
      return reply.status(201).send(created);
    },
  );

  app.patch(
    '/annotations/:id',
    {
      config: { audit: 'annotation.update' },
      schema: {
        tags: ['discussion'],
        summary: "Change an annotation's shape or label (send the version you loaded)",
        params: ScanParams,
        body: Type.Object({ ...AnnotationBody.properties, version: Type.Integer({ minimum: 1 }) }),
        response: { 200: Type.Ref('Annotation'), ...errorReplies(400, 401, 403, 404, 409) },
      },
    },
    async (request) => {
      const body = request.body;
      request.auditTarget = { resourceType: 'annotation', details: { version: body.version } };
      return annotations.update(sessionOf(request), request.params.id, {
        version: body.version,
        geometry: toGeometry(body.geometry),
        frame: body.frame,
        label: body.label,
      });
    },
  );

  app.delete(
    '/annotations/:id',
    {
      config: { audit: 'annotation.delete' },
      schema: {
        tags: ['discussion'],
        summary: 'Withdraw an annotation (it is kept, flagged deleted; send the version you loaded)',
        params: ScanParams,
        querystring: Type.Object({ version: Type.Integer({ minimum: 1 }) }),
        response: { 200: Type.Ref('Annotation'), ...errorReplies(400, 401, 403, 404, 409) },
      },
    },
    async (request) => {
      request.auditTarget = { resourceType: 'annotation', details: { version: request.query.version } };
      return annotations.update(sessionOf(request), request.params.id, {
        version: request.query.version,
        delete: true,
      });
    },
  );
};
