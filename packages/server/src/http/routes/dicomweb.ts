/**
 * /dicom-web: DICOMweb (PS3.18) for viewers and archives: QIDO-RS search, WADO-RS retrieval
 * (instances, metadata, frames, rendered) and STOW-RS store. The same bearer authentication, policy,
 * row-level security and audit trail as /api/v1 apply; errors are the API's `{ error }` JSON.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { Type, type TSchema } from 'typebox';
import { AppError } from '@scanflow/domain';
import type { AuditDetails } from '../../audit/audit-log.ts';
import type { InstanceRow } from '../../repositories/dicomweb.ts';
import { instanceUrl, parseQidoQuery, type QidoLevel } from '../../services/dicomweb-query.ts';
import type { InstanceTarget } from '../../services/dicomweb-service.ts';
import { errorReplies } from '../schemas.ts';
import { warningHeader } from '../warning-header.ts';
import { infoOf, sessionOf } from '../request-context.ts';
import { buildMultipartRelated, parseAccept, parseMultipartRelated } from '../multipart-related.ts';

const Uid = Type.String({ pattern: '^[0-9]+(\\.[0-9]+)*$', maxLength: 64, description: 'A DICOM UID' });
const StudyParams = Type.Object({ study: Uid });
const SeriesParams = Type.Object({ study: Uid, series: Uid });
const InstanceParams = Type.Object({ study: Uid, series: Uid, instance: Uid });
const NoParams = Type.Object({});
const EXPLICIT_VR_LITTLE_ENDIAN = '1.2.840.10008.1.2.1';
const DICOM_JSON = 'application/dicom+json';
const MAX_STOW_PARTS = 1000;

type Query = Record<string, string | string[] | undefined>;

/** The /dicom-web URL as the client reached it (behind a proxy only when TRUST_PROXY says so). */
const baseOf = (request: FastifyRequest) => `${request.protocol}://${request.host}/dicom-web`;

const notAcceptable = (what: string) =>
  new AppError('not_acceptable', `Scanflow answers ${what}; the Accept header asks for something else`);

/**
 * The transfer syntax an Accept header allows for multipart parts of `partType`: undefined when any
 * will do, or the UID asked for. Throws 406 when no entry can be met.
 */
function acceptedPartSyntax(header: string | undefined, partType: string): string | undefined {
  const entries = parseAccept(header);
  if (entries.length === 0) return undefined;
  for (const e of entries) {
    if (e.type === '*/*' || e.type === 'multipart/*') return undefined;
    if (e.type === 'multipart/related' && (e.params.type ?? partType).toLowerCase() === partType) {
      const ts = e.params['transfer-syntax'];
      return ts === '*' ? undefined : ts;
    }
  }
  throw notAcceptable(`multipart/related; type="${partType}"`);
}

function acceptsJson(header: string | undefined): void {
  const entries = parseAccept(header);
  const ok = ['*/*', 'application/*', DICOM_JSON, 'application/json'];
  if (entries.length > 0 && !entries.some((e) => ok.includes(e.type))) throw notAcceptable(DICOM_JSON);
}

function renderedFormat(header: string | undefined): 'png' | 'jpeg' {
  const entries = parseAccept(header);
  for (const e of entries) {
    if (e.type === 'image/png') return 'png';
    if (e.type === 'image/jpeg' || e.type === 'image/*' || e.type === '*/*') return 'jpeg';
  }
  if (entries.length === 0) return 'jpeg'; // PS3.18 8.7.4: JPEG is the default for rendered images
  throw notAcceptable('image/jpeg or image/png');
}

/** Frame numbers of a frames path segment: "1", "1,3,5" (PS3.18 10.4.1.1.6). */
function frameList(text: string): number[] {
  const numbers = text.split(',').map((n) => Number(n.trim()));
  if (numbers.length > 10_000 || numbers.some((n) => !Number.isInteger(n) || n < 1)) {
    throw new AppError('validation_failed', 'Frames must be a comma-separated list of frame numbers from 1');
  }
  return numbers;
}

/** window=center,width[,function] and viewport=vw,vh of a rendered request (PS3.18 8.3.5.1). */
function renderingOptions(query: Query): { windowCenter?: number; windowWidth?: number; maxSize?: number } {
  const out: { windowCenter?: number; windowWidth?: number; maxSize?: number } = {};
  const window = typeof query.window === 'string' ? query.window : undefined;
  if (window) {
    const [center, width, fn] = window.split(',');
    const c = Number(center);
    const w = Number(width);
    if (!Number.isFinite(c) || !Number.isFinite(w) || w <= 0 || (fn && fn.toLowerCase() !== 'linear')) {
      throw new AppError('validation_failed', 'window must be center,width[,linear] with a positive width');
    }
    Object.assign(out, { windowCenter: c, windowWidth: w });
  }
  const viewport = typeof query.viewport === 'string' ? query.viewport : undefined;
  if (viewport) {
    const sizes = viewport.split(',').slice(0, 2).map(Number);
    if (sizes.some((n) => !Number.isInteger(n) || n < 16 || n > 16_384)) {
      throw new AppError('validation_failed', 'viewport must be width,height in pixels (16 to 16384)');
    }
    out.maxSize = Math.max(...sizes);
  }
  return out;
}

/** Route options: audit action, OpenAPI summary and, where the path has them, its UID parameters. */
function route<P extends TSchema>(audit: string, summary: string, params: P, extra: Record<string, unknown> = {}) {
  return {
    config: { audit },
    schema: {
      tags: ['dicomweb'],
      summary,
      params,
      response: { 200: Type.Any(), ...errorReplies(400, 401, 403, 404, 406, 409, 413, 415) },
      ...extra,
    },
  };
}

const QIDO_KEYS =
  'Matching keys: StudyInstanceUID, SeriesInstanceUID, SOPInstanceUID, SOPClassUID (UID lists), PatientID (exact), ' +
  'StudyDate (YYYYMMDD or range), ModalitiesInStudy/Modality; limit, offset. Others are ignored with a Warning header.';

export const dicomWebRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const dicomweb = app.services.dicomweb;

  // STOW-RS bodies are multipart/related with DICOM parts; the whole request is bounded.
  app.addContentTypeParser(
    'multipart/related',
    { parseAs: 'buffer', bodyLimit: app.ctx.config.maxUploadBytes },
    (_request, body, done) => done(null, body),
  );

  // ---- QIDO-RS ----
  const search = async (
    request: FastifyRequest,
    reply: FastifyReply,
    level: QidoLevel,
    fixed: Partial<InstanceTarget>,
  ) => {
    acceptsJson(request.headers.accept);
    const query = parseQidoQuery(request.query as Query, fixed);
    const results = await dicomweb.search(sessionOf(request), level, query, baseOf(request));
    request.auditTarget = {
      resourceType: level,
      resourceId: fixed.study ?? null,
      details: { results: results.length },
    };
    if (query.warnings.length) void reply.header('warning', warningHeader(query.warnings));
    return reply.type(DICOM_JSON).send(results);
  };
  const qido = <P extends TSchema>(summary: string, params: P) =>
    route('dicomweb.search', `QIDO-RS: ${summary}`, params, { description: QIDO_KEYS });
  app.get('/studies', qido('search studies', NoParams), (request, reply) => search(request, reply, 'study', {}));
  app.get('/series', qido('search series', NoParams), (request, reply) => search(request, reply, 'series', {}));
  app.get('/instances', qido('search instances', NoParams), (request, reply) => search(request, reply, 'instance', {}));
  app.get('/studies/:study/series', qido("a study's series", StudyParams), (request, reply) =>
    search(request, reply, 'series', request.params),
  );
  app.get('/studies/:study/instances', qido("a study's instances", StudyParams), (request, reply) =>
    search(request, reply, 'instance', request.params),
  );
  app.get('/studies/:study/series/:series/instances', qido("a series' instances", SeriesParams), (request, reply) =>
    search(request, reply, 'instance', request.params),
  );

  // ---- WADO-RS ----
  const auditRead = (request: FastifyRequest, rows: InstanceRow[], extra: AuditDetails = {}) => {
    request.auditTarget = {
      resourceType: 'scan',
      resourceId: rows.map((r) => r.id).join(','),
      details: { instances: rows.length, ...(rows.length === 1 ? { sha256: rows[0]!.sha256 } : {}), ...extra },
    };
  };

  const retrieve = async (request: FastifyRequest, reply: FastifyReply, target: InstanceTarget) => {
    const wanted = acceptedPartSyntax(request.headers.accept, 'application/dicom');
    const instances = await dicomweb.retrieve(sessionOf(request), target);
    const mismatch = wanted && instances.find((i) => i.row.transfer_syntax_uid !== wanted);
    if (mismatch) {
      throw new AppError(
        'not_acceptable',
        `Instances are returned in the transfer syntax they were stored in (${mismatch.row.transfer_syntax_uid}), not ${wanted}`,
      );
    }
    auditRead(
      request,
      instances.map((i) => i.row),
    );
    const { contentType, body } = buildMultipartRelated(
      'application/dicom',
      instances.map(({ row, bytes }) => ({
        contentType: `application/dicom; transfer-syntax=${row.transfer_syntax_uid}`,
        body: bytes,
        location: instanceUrl(baseOf(request), row),
      })),
    );
    return reply.header('content-type', contentType).header('cache-control', 'private, no-store').send(body);
  };
  const wado = <P extends TSchema>(summary: string, params: P) =>
    route('dicomweb.retrieve', `WADO-RS: ${summary}`, params);
  app.get(
    '/studies/:study',
    wado('a study (multipart/related; type="application/dicom")', StudyParams),
    (request, reply) => retrieve(request, reply, request.params),
  );
  app.get('/studies/:study/series/:series', wado('a series', SeriesParams), (request, reply) =>
    retrieve(request, reply, request.params),
  );
  app.get('/studies/:study/series/:series/instances/:instance', wado('an instance', InstanceParams), (request, reply) =>
    retrieve(request, reply, request.params),
  );

  const metadata = async (request: FastifyRequest, reply: FastifyReply, target: InstanceTarget) => {
    acceptsJson(request.headers.accept);
    const { rows, json } = await dicomweb.metadata(sessionOf(request), target, baseOf(request));
    auditRead(request, rows);
    return reply.type(DICOM_JSON).header('cache-control', 'private, no-store').send(json);
  };
  app.get('/studies/:study/metadata', wado("a study's metadata (DICOM JSON)", StudyParams), (request, reply) =>
    metadata(request, reply, request.params),
  );
  app.get('/studies/:study/series/:series/metadata', wado("a series' metadata", SeriesParams), (request, reply) =>
    metadata(request, reply, request.params),
  );
  app.get(
    '/studies/:study/series/:series/instances/:instance/metadata',
    wado("an instance's metadata", InstanceParams),
    (request, reply) => metadata(request, reply, request.params),
  );

  app.get(
    '/studies/:study/series/:series/instances/:instance/frames/:frames',
    wado(
      'frames as uncompressed little-endian bytes (multipart/related; type="application/octet-stream")',
      Type.Object({ study: Uid, series: Uid, instance: Uid, frames: Type.String({ maxLength: 60_000 }) }),
    ),
    async (request, reply) => {
      const wanted = acceptedPartSyntax(request.headers.accept, 'application/octet-stream');
      if (wanted && wanted !== EXPLICIT_VR_LITTLE_ENDIAN) {
        throw new AppError(
          'not_acceptable',
          `Frames are returned uncompressed (${EXPLICIT_VR_LITTLE_ENDIAN}), not ${wanted}`,
        );
      }
      const { frames, ...target } = request.params;
      const numbers = frameList(frames);
      const result = await dicomweb.frames(sessionOf(request), target, numbers);
      auditRead(request, [result.row], { frames: numbers.length });
      const location = instanceUrl(baseOf(request), result.row);
      const { contentType, body } = buildMultipartRelated(
        'application/octet-stream',
        result.frames.frames.map((bytes, i) => ({
          contentType: `application/octet-stream; transfer-syntax=${EXPLICIT_VR_LITTLE_ENDIAN}`,
          body: bytes,
          location: `${location}/frames/${numbers[i]}`,
        })),
      );
      return reply.header('content-type', contentType).header('cache-control', 'private, no-store').send(body);
    },
  );

  const rendered = async (
    request: FastifyRequest,
    reply: FastifyReply,
    target: Required<InstanceTarget>,
    frame: number,
  ) => {
    const format = renderedFormat(request.headers.accept);
    const { row, image } = await dicomweb.rendered(sessionOf(request), target, {
      frame: frame - 1,
      format,
      ...renderingOptions(request.query as Query),
    });
    auditRead(request, [row], { frame });
    return reply
      .header('content-type', format === 'png' ? 'image/png' : 'image/jpeg')
      .header('cache-control', 'private, max-age=300')
      .send(Buffer.from(image));
  };
  app.get(
    '/studies/:study/series/:series/instances/:instance/rendered',
    wado('an instance rendered (first frame; image/jpeg or image/png; window, viewport)', InstanceParams),
    (request, reply) => rendered(request, reply, request.params, 1),
  );
  app.get(
    '/studies/:study/series/:series/instances/:instance/frames/:frame/rendered',
    wado(
      'a frame rendered',
      Type.Object({ study: Uid, series: Uid, instance: Uid, frame: Type.Integer({ minimum: 1, maximum: 100_000 }) }),
    ),
    (request, reply) => {
      const { frame, ...target } = request.params;
      return rendered(request, reply, target, frame);
    },
  );

  // ---- STOW-RS ----
  const store = async (request: FastifyRequest, reply: FastifyReply, study: string | undefined) => {
    const body = request.body;
    if (!Buffer.isBuffer(body)) {
      throw new AppError('unsupported_media_type', 'Send the instances as multipart/related; type="application/dicom"');
    }
    const parts = parseMultipartRelated(request.headers['content-type'] ?? '', body, MAX_STOW_PARTS);
    const result = await dicomweb.store(sessionOf(request), parts, {
      study,
      base: baseOf(request),
      clientAddress: infoOf(request).clientAddress,
    });
    request.auditTarget = {
      resourceType: 'study',
      resourceId: study ?? null,
      details: { stored: result.stored, failed: result.failed },
    };
    return reply.status(result.status).type(DICOM_JSON).send(result.body);
  };
  const stow = <P extends TSchema>(summary: string, params: P) =>
    route('dicomweb.store', `STOW-RS: ${summary}`, params, {
      description:
        'Body: multipart/related; type="application/dicom". Answers the PS3.18 store response: ReferencedSOPSequence ' +
        'and FailedSOPSequence with a Failure Reason per instance (200 all stored, 202 some, 409 none).',
      // 409 here is the store response (none stored), not an error reply.
      response: { 200: Type.Any(), 202: Type.Any(), 409: Type.Any(), ...errorReplies(400, 401, 403, 413, 415) },
    });
  app.post('/studies', stow('store instances', NoParams), (request, reply) => store(request, reply, undefined));
  app.post('/studies/:study', stow('store instances of one study', StudyParams), (request, reply) =>
    store(request, reply, request.params.study),
  );
};
