/**
 * Reports (SPEC R1–R3): the issued PDF, delivery status, FHIR and DICOM SR forms, the patient's
 * delivery code, outbox attachments for admins, and the public verification of a report.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { AppError } from '@scanflow/domain';
import { errorReplies, Uuid } from '../schemas.ts';
import { sessionOf } from '../request-context.ts';
import { ReportService } from '../../services/report-service.ts';

const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(schema: T) => Type.Union([schema, Type.Null()]);

const DeliveryView = Type.Object({
  id: Uuid,
  channel: Type.Union([Type.Literal('email'), Type.Literal('outbox')]),
  status: Type.Union([Type.Literal('queued'), Type.Literal('sent'), Type.Literal('failed')]),
  reason: Nullable(Type.String()),
  attempts: Type.Integer(),
  queuedAt: Type.String({ format: 'date-time' }),
  lastAttemptAt: Nullable(Type.String({ format: 'date-time' })),
  sentAt: Nullable(Type.String({ format: 'date-time' })),
});

const VerificationReply = Type.Object({
  match: Type.Boolean(),
  report: Nullable(
    Type.Object({
      verificationCode: Type.String(),
      sha256: Type.String({ description: 'SHA-256 of the issued PDF file' }),
      version: Type.Integer(),
      issuedAt: Type.String({ format: 'date-time' }),
      organisation: Type.String(),
    }),
  ),
  ledger: Nullable(
    Type.Object(
      {
        origin: Type.String(),
        index: Type.Integer(),
        leafHash: Type.String(),
        entry: Type.String({ description: 'The leaf’s canonical bytes, base64' }),
        checkpoint: Nullable(
          Type.Object({
            size: Type.Integer(),
            rootHash: Type.String(),
            note: Type.String({ description: 'The signed checkpoint (C2SP signed note)' }),
            createdAt: Type.String(),
          }),
        ),
        inclusionProof: Nullable(Type.Array(Type.String(), { description: 'RFC 9162 inclusion proof, base64' })),
      },
      { description: 'Where the tamper-evident log holds the report.issued entry (null until sequenced)' },
    ),
  ),
});

const PDF_LIMIT = 50 * 1024 * 1024;

export const reportRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const reports = new ReportService(app.ctx);
  const verifyLimit = { max: app.ctx.config.verifyRateLimitPerMinute, timeWindow: '1 minute' };

  // POST /reports/verify takes the PDF itself as the body (this plugin only).
  app.addContentTypeParser(
    ['application/pdf', 'application/octet-stream'],
    { parseAs: 'buffer', bodyLimit: PDF_LIMIT },
    (_request, body, done) => done(null, body),
  );

  app.get(
    '/scans/:id/report',
    {
      config: { audit: 'report.read' },
      schema: {
        tags: ['reports'],
        summary: 'The signed PDF report of an approved case (the patient, and clinicians with access)',
        params: Type.Object({ id: Uuid }),
        response: { 200: Type.Any({ description: 'application/pdf' }), ...errorReplies(400, 401, 403, 404, 409) },
      },
    },
    async (request, reply) => {
      const report = await reports.download(sessionOf(request), request.params.id);
      request.auditTarget = {
        resourceType: 'scan',
        resourceId: request.params.id,
        details: { reportId: report.reportId, sha256: report.sha256 },
      };
      return reply
        .headers({
          'content-type': 'application/pdf',
          'content-disposition': `attachment; filename="${report.filename}"`,
          'cache-control': 'private, no-store',
          'x-report-sha256': report.sha256,
        })
        .send(report.pdf);
    },
  );

  app.get(
    '/scans/:id/deliveries',
    {
      config: { audit: 'report.delivery_status' },
      schema: {
        tags: ['reports'],
        summary: "Delivery of the case's report to the patient: status, attempts, reason (patient and admins)",
        params: Type.Object({ id: Uuid }),
        response: { 200: Type.Object({ items: Type.Array(DeliveryView) }), ...errorReplies(400, 401, 403, 404, 409) },
      },
    },
    async (request) => ({ items: await reports.deliveries(sessionOf(request), request.params.id) }),
  );

  app.get(
    '/scans/:id/fhir',
    {
      config: { audit: 'report.fhir_read' },
      schema: {
        tags: ['reports'],
        summary: 'The report as a FHIR R4 Bundle',
        description:
          'Patient, ImagingStudy, DiagnosticReport (status, conclusion, presentedForm = the PDF), an Observation per ' +
          'AI finding with the model as device and method, and a MedicationRequest per prescription item.',
        params: Type.Object({ id: Uuid }),
        response: { 200: Type.Any({ description: 'application/fhir+json' }), ...errorReplies(400, 401, 403, 404, 409) },
      },
    },
    async (request, reply) => {
      const { bundle, reportId } = await reports.fhir(sessionOf(request), request.params.id);
      request.auditTarget = { resourceType: 'scan', resourceId: request.params.id, details: { reportId } };
      return reply
        .type('application/fhir+json; charset=utf-8')
        .header('cache-control', 'private, no-store')
        .serializer((payload) => JSON.stringify(payload))
        .send(bundle);
    },
  );

  app.get(
    '/scans/:id/sr',
    {
      config: { audit: 'scan.sr_read' },
      schema: {
        tags: ['reports'],
        summary: "The AI result as a DICOM Comprehensive SR referencing the scan's source instance",
        params: Type.Object({ id: Uuid }),
        response: { 200: Type.Any({ description: 'application/dicom' }), ...errorReplies(400, 401, 403, 404, 409) },
      },
    },
    async (request, reply) => {
      const sr = await reports.structuredReport(sessionOf(request), request.params.id);
      return reply
        .headers({
          'content-type': 'application/dicom',
          'content-disposition': `attachment; filename="${sr.filename}"`,
          'cache-control': 'private, no-store',
        })
        .send(sr.bytes);
    },
  );

  app.put(
    '/reports/delivery-code',
    {
      config: { audit: 'report.delivery_code_set' },
      schema: {
        tags: ['reports'],
        summary: 'Patients: the password for e-mailed reports (instead of the date of birth); null to clear',
        body: Type.Object({ code: Nullable(Type.String({ minLength: 8, maxLength: 64 })) }),
        response: { 204: Type.Null(), ...errorReplies(400, 401, 403, 404) },
      },
    },
    async (request, reply) => {
      await reports.setDeliveryCode(sessionOf(request), request.body.code);
      return reply.status(204).send(null);
    },
  );

  app.get(
    '/admin/outbox/:id/attachment',
    {
      config: { audit: 'outbox.attachment_read' },
      schema: {
        tags: ['admin'],
        summary: "An outbox message's attachment (a report PDF, protected with the patient's password)",
        params: Type.Object({ id: Uuid }),
        response: { 200: Type.Any({ description: 'the attachment' }), ...errorReplies(400, 401, 403, 404) },
      },
    },
    async (request, reply) => {
      const file = await reports.outboxAttachment(sessionOf(request), request.params.id);
      return reply
        .headers({
          'content-type': file.type,
          'content-disposition': `attachment; filename="${file.name}"`,
          'cache-control': 'private, no-store',
        })
        .send(file.bytes);
    },
  );

  const verifyDescription =
    'Public and rate limited. Answers whether this is a report the server issued, when and by which ' +
    'organisation, and which signed checkpoint of the tamper-evident log includes it, with the inclusion proof. ' +
    'Never patient data.';

  app.get(
    '/reports/verify',
    {
      config: { auth: false, audit: 'report.verify', rateLimit: verifyLimit },
      schema: {
        tags: ['reports'],
        summary: 'Check a report by its verification code',
        description: verifyDescription,
        security: [],
        querystring: Type.Object({ code: Type.String({ minLength: 1, maxLength: 40 }) }),
        response: { 200: VerificationReply, ...errorReplies(400, 429) },
      },
    },
    async (request) => {
      const { result, orgId } = await reports.verify({ code: request.query.code });
      request.auditTarget = {
        resourceType: 'report',
        resourceId: null,
        details: { match: result.match, sha256: result.report?.sha256 ?? null, orgId },
      };
      return result;
    },
  );

  app.post(
    '/reports/verify',
    {
      config: { auth: false, audit: 'report.verify', rateLimit: verifyLimit },
      schema: {
        tags: ['reports'],
        summary: 'Check a report file: send the PDF as the body (Content-Type: application/pdf)',
        description: verifyDescription,
        security: [],
        consumes: ['application/pdf'],
        response: { 200: VerificationReply, ...errorReplies(400, 413, 415, 429) },
      },
    },
    async (request) => {
      if (!Buffer.isBuffer(request.body)) {
        throw new AppError('unsupported_media_type', 'Send the PDF file itself, as application/pdf');
      }
      const { result, orgId } = await reports.verify({ pdf: request.body });
      request.auditTarget = {
        resourceType: 'report',
        resourceId: null,
        details: { match: result.match, sha256: result.report?.sha256 ?? null, orgId },
      };
      return result;
    },
  );
};
