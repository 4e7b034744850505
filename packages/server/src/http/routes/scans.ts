/** /api/v1/scans: upload, worklists, a case, its image, and lifecycle transitions. */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { AppError, isScanStatus, isUuid, USER_TRANSITION_ACTIONS, type ScanStatus } from '@scanflow/domain';
import { errorReplies, Uuid } from '../schemas.ts';
import { sessionOf } from '../request-context.ts';
import { heatmapPictureReplies, sendHeatmapPicture } from '../heatmap-reply.ts';
import { AnalysisService } from '../../services/analysis-service.ts';
import type { UploadedFile, WorklistPage } from '../../services/scan-service.ts';

function parseStatuses(text: string | undefined): ScanStatus[] | undefined {
  if (!text) return undefined;
  const statuses = text.split(',').map((s) => s.trim().toUpperCase());
  const bad = statuses.filter((s) => !isScanStatus(s));
  if (bad.length > 0) throw new AppError('validation_failed', `Unknown status ${bad.join(', ')}`);
  return statuses as ScanStatus[];
}

function parseDate(text: string | undefined, name: string): Date | undefined {
  if (!text) return undefined;
  const date = new Date(text);
  if (Number.isNaN(date.getTime()))
    throw new AppError('validation_failed', `${name} must be a date or date-time (ISO 8601)`);
  return date;
}

const serialisedPages = new WeakMap<WorklistPage, string>();

export const scanRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const scans = app.services.scans;
  const analyses = new AnalysisService(app.ctx);

  app.post(
    '/',
    {
      config: { audit: 'scan.upload' },
      schema: {
        tags: ['scans'],
        summary: 'Upload one or many scans (multipart/form-data: files, and patientId for clinicians)',
        description:
          'DICOM Part 10, PNG, JPEG or TIFF, identified by content. All files are accepted or none is: ' +
          'an error names the file it is about.',
        consumes: ['multipart/form-data'],
        response: {
          201: Type.Object({ scans: Type.Array(Type.Ref('ScanSummary')) }),
          ...errorReplies(400, 401, 403, 404, 409, 413, 415, 422),
        },
      },
    },
    async (request, reply) => {
      const session = sessionOf(request);
      if (!request.isMultipart()) throw new AppError('unsupported_media_type', 'Send the files as multipart/form-data');
      const files: UploadedFile[] = [];
      let patientId: string | undefined;
      for await (const part of request.parts()) {
        if (part.type === 'file') {
          files.push({ filename: part.filename ?? '', bytes: await part.toBuffer() });
        } else if (part.fieldname === 'patientId') {
          const value = String(part.value).trim();
          if (!isUuid(value)) throw new AppError('validation_failed', 'patientId must be a patient record id (UUID)');
          patientId = value.toLowerCase();
        }
      }
      const created = await scans.upload(session, files, { patientId });
      request.auditTarget = { resourceType: 'scan', resourceId: created.map((s) => s.id).join(',') };
      return reply.status(201).send({ scans: created });
    },
  );

  app.get(
    '/',
    {
      config: { audit: 'scan.list' },
      schema: {
        tags: ['scans'],
        summary: "The caller's worklist",
        description:
          'Doctors: analysed scans; pharmacists: verified ones; admins: those awaiting approval; patients: their own. ' +
          'Clinician queues are ordered HIGH priority first, then by waiting time; patients see newest first.',
        querystring: Type.Object({
          status: Type.Optional(Type.String({ maxLength: 200, description: 'Comma-separated statuses' })),
          priority: Type.Optional(Type.Union([Type.Literal('HIGH'), Type.Literal('ROUTINE')])),
          from: Type.Optional(Type.String({ maxLength: 40, description: 'Received at or after (ISO 8601)' })),
          to: Type.Optional(Type.String({ maxLength: 40, description: 'Received before (ISO 8601)' })),
          cursor: Type.Optional(Type.String({ maxLength: 300 })),
          limit: Type.Integer({ minimum: 1, maximum: 200, default: 50 }),
        }),
        response: {
          200: Type.Object({
            items: Type.Array(Type.Ref('ScanSummary')),
            nextCursor: Type.Union([Type.String(), Type.Null()]),
          }),
          ...errorReplies(400, 401, 403),
        },
      },
    },
    async (request, reply) => {
      const q = request.query;
      const page = await scans.list(sessionOf(request), {
        statuses: parseStatuses(q.status),
        priority: q.priority,
        from: parseDate(q.from, 'from'),
        to: parseDate(q.to, 'to'),
        cursor: q.cursor,
        limit: q.limit,
      });
      // A cached page is the same object for every reader: serialise it (through the route's
      // schema, which strips undeclared fields) once, not once per request.
      let json = serialisedPages.get(page);
      if (json === undefined) {
        json = reply.serialize(page) as string; // the JSON serialiser compiled from the schema
        serialisedPages.set(page, json);
      }
      return reply
        .type('application/json; charset=utf-8')
        .serializer((payload) => payload as string)
        .send(json as never); // already serialised by this route's own schema, above
    },
  );

  app.get(
    '/integrity-review',
    {
      config: { audit: 'scan.integrity_review' },
      schema: {
        tags: ['scans'],
        summary: 'The integrity second-opinion queue',
        description:
          'Scans whose stored bytes no longer match the SHA-256 recorded at ingest, longest waiting first. ' +
          'They are blocked from export and report release until reviewed. Doctors and administrators.',
        querystring: Type.Object({ limit: Type.Integer({ minimum: 1, maximum: 200, default: 50 }) }),
        response: {
          200: Type.Object({ items: Type.Array(Type.Ref('ScanSummary')) }),
          ...errorReplies(401, 403),
        },
      },
    },
    async (request) => ({ items: await scans.integrityReview(sessionOf(request), request.query.limit) }),
  );

  app.get(
    '/counts',
    {
      config: { audit: 'scan.counts' },
      schema: {
        tags: ['scans'],
        summary: 'Counts per status for dashboards (high priority, oldest waiting)',
        response: {
          200: Type.Object({
            counts: Type.Array(
              Type.Object({
                status: Type.String(),
                total: Type.Integer(),
                high: Type.Integer(),
                oldestWaitingSince: Type.Union([Type.String(), Type.Null()]),
              }),
            ),
          }),
          ...errorReplies(401, 403),
        },
      },
    },
    async (request) => ({ counts: await scans.counts(sessionOf(request)) }),
  );

  app.get(
    '/:id',
    {
      config: { audit: 'scan.read' },
      schema: {
        tags: ['scans'],
        summary: 'A case: the scan, AI pre-read, findings, prescription and timeline',
        params: Type.Object({ id: Uuid }),
        response: { 200: Type.Ref('ScanDetail'), ...errorReplies(400, 401, 403, 404) },
      },
    },
    async (request) => scans.get(sessionOf(request), request.params.id),
  );

  app.get(
    '/:id/image',
    {
      config: { audit: 'scan.image_read' },
      schema: {
        tags: ['scans'],
        summary: 'The original image bytes, re-verified against their SHA-256',
        params: Type.Object({ id: Uuid }),
        response: {
          200: Type.Any({ description: 'The image (application/dicom, image/png, image/jpeg or image/tiff)' }),
          ...errorReplies(400, 401, 403, 404, 409),
        },
      },
    },
    async (request, reply) => {
      const image = await scans.readImage(sessionOf(request), request.params.id);
      return reply
        .header('content-type', image.mediaType)
        .header('content-disposition', `attachment; filename="${image.filename}"`)
        .header('cache-control', 'private, no-store')
        .send(image.bytes);
    },
  );

  app.get(
    '/:id/rendition',
    {
      config: { audit: 'scan.rendition_read' },
      schema: {
        tags: ['scans'],
        summary: 'An 8-bit PNG for display: a frame, a window (centre and width), full size or a thumbnail',
        description: 'Without a window, the one in the file (or its VOI LUT) is used, else a robust automatic window.',
        params: Type.Object({ id: Uuid }),
        querystring: Type.Object({
          frame: Type.Integer({ minimum: 0, maximum: 100_000, default: 0 }),
          maxSize: Type.Optional(Type.Integer({ minimum: 16, maximum: 16_384, description: 'Longest side in pixels' })),
          wc: Type.Optional(Type.Number({ description: 'Window centre (in modality units, e.g. HU)' })),
          ww: Type.Optional(Type.Number({ exclusiveMinimum: 0, description: 'Window width' })),
        }),
        response: { 200: Type.Any({ description: 'image/png' }), ...errorReplies(400, 401, 403, 404, 409, 415, 422) },
      },
    },
    async (request, reply) => {
      const q = request.query;
      if ((q.wc === undefined) !== (q.ww === undefined)) {
        throw new AppError('validation_failed', 'Give both wc and ww, or neither');
      }
      const rendition = await app.services.renditions.render(sessionOf(request), request.params.id, {
        frame: q.frame,
        maxSize: q.maxSize,
        windowCenter: q.wc,
        windowWidth: q.ww,
      });
      const headers: Record<string, string> = {
        'content-type': 'image/png',
        'cache-control': 'private, max-age=300',
        'x-image-width': String(rendition.width),
        'x-image-height': String(rendition.height),
        'x-window-source': rendition.windowSource,
      };
      if (rendition.window) {
        headers['x-window-center'] = String(rendition.window.center);
        headers['x-window-width'] = String(rendition.window.width);
      }
      return reply.headers(headers).send(Buffer.from(rendition.png));
    },
  );

  app.get(
    '/:id/heatmap',
    {
      config: { audit: 'scan.heatmap_read' },
      schema: {
        tags: ['scans'],
        summary: "The AI's Grad-CAM heatmap for the top finding: an RGBA PNG to lay over the image",
        description: 'Decision support: it shows where the model looked, not a diagnosis.',
        params: Type.Object({ id: Uuid }),
        response: { ...heatmapPictureReplies, ...errorReplies(400, 401, 403, 404, 409) },
      },
    },
    async (request, reply) => {
      // The current analysis's colour overlay (as GET /scans/{id}/analysis/overlay).
      const heatmap = await analyses.image(sessionOf(request), request.params.id, 'overlay');
      return sendHeatmapPicture(request, reply, request.params.id, heatmap, 'overlay', 'current');
    },
  );

  app.post(
    '/:id/transitions',
    {
      config: { audit: 'scan.transition' },
      schema: {
        tags: ['scans'],
        summary: 'Move a case along its lifecycle, or send it back one step with a reason',
        description:
          'verify (doctor, needs findings) → complete (pharmacist, needs prescription) → approve (admin). ' +
          'send_back (the role that owns the current step, needs reason). `version` must be the version you loaded.',
        params: Type.Object({ id: Uuid }),
        body: Type.Object({
          action: Type.Union(USER_TRANSITION_ACTIONS.map((a) => Type.Literal(a))),
          version: Type.Integer({ minimum: 1 }),
          findings: Type.Optional(Type.String({ maxLength: 20_000 })),
          impression: Type.Optional(Type.String({ maxLength: 20_000 })),
          notes: Type.Optional(Type.String({ maxLength: 20_000 })),
          reason: Type.Optional(Type.String({ maxLength: 2_000 })),
          prescription: Type.Optional(Type.Ref('Prescription')),
        }),
        response: { 200: Type.Ref('ScanDetail'), ...errorReplies(400, 401, 403, 404, 409) },
      },
    },
    async (request) => {
      const body = request.body;
      const result = await scans.transition(sessionOf(request), request.params.id, body);
      request.auditTarget = {
        resourceType: 'scan',
        resourceId: request.params.id,
        reason: body.action === 'send_back' ? `send_back: ${body.reason ?? ''}` : body.action,
      };
      return result;
    },
  );
};
