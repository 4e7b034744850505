/** /api/v1/scans/{id}/export/deidentified: a DICOM scan de-identified (PS3.15), as a Part 10 file. */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { errorReplies, Uuid } from '../schemas.ts';
import { sessionOf } from '../request-context.ts';
import { warningHeader } from '../warning-header.ts';

export const exportRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get(
    '/:id/export/deidentified',
    {
      config: { audit: 'scan.export_deidentified' },
      schema: {
        tags: ['scans'],
        summary: 'A de-identified copy of a DICOM scan (PS3.15 Basic Application Level Confidentiality Profile)',
        description:
          'Doctors and administrators. Identifying attributes are removed or replaced at every depth, private ' +
          'tags removed, UIDs remapped consistently for the organisation, the patient given a pseudonym. ' +
          'shiftDays keeps dates, shifted; a scan with Burned In Annotation YES is refused (422) unless ' +
          'allowBurnedIn=true, and then carries a Warning header. Refused (409) when the stored bytes fail ' +
          'their integrity check. The audit event records the export’s SHA-256.',
        params: Type.Object({ id: Uuid }),
        querystring: Type.Object({
          shiftDays: Type.Optional(Type.Integer({ minimum: -36_500, maximum: 36_500 })),
          allowBurnedIn: Type.Boolean({ default: false }),
        }),
        response: {
          200: Type.Any({ description: 'application/dicom' }),
          ...errorReplies(400, 401, 403, 404, 409, 422),
        },
      },
    },
    async (request, reply) => {
      const { id } = request.params;
      const { shiftDays, allowBurnedIn } = request.query;
      const result = await app.services.exports.export(sessionOf(request), id, { shiftDays, allowBurnedIn });
      request.auditTarget = {
        resourceType: 'scan',
        resourceId: id,
        details: {
          sha256: result.sha256,
          sourceSha256: result.sourceSha256,
          shiftDays: shiftDays ?? null,
          burnedInOverride: allowBurnedIn,
          warnings: result.warnings.length,
        },
      };
      if (result.warnings.length) void reply.header('warning', warningHeader(result.warnings));
      return reply
        .header('content-type', 'application/dicom')
        .header('content-disposition', `attachment; filename="${result.filename}"`)
        .header('cache-control', 'private, no-store')
        .send(Buffer.from(result.bytes));
    },
  );
};
