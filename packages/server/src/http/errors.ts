/**
 * The one error reply shape: `{ error: { code, message, details? } }` with a stable code.
 * AppErrors carry their own status; Fastify's own errors (validation, body limits, bad JSON,
 * multipart limits, rate limits) are translated; anything else is logged and answered with a
 * bare 500 that reveals nothing.
 */
import { AppError, ERROR_STATUS, type ErrorCode } from '@scanflow/domain';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';

export interface ErrorBody {
  error: { code: ErrorCode; message: string; details?: Record<string, unknown> };
}

function fromFastifyError(error: FastifyError): AppError | null {
  if (error.validation) {
    const first = error.validation[0];
    const where = first?.instancePath
      ? first.instancePath.replace(/^\//, '').replace(/\//g, '.')
      : error.validationContext;
    const message = first ? `${where ? `${where}: ` : ''}${first.message ?? 'is not valid'}` : error.message;
    return new AppError('validation_failed', `Invalid request — ${message}`);
  }
  switch (error.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
    case 'FST_REQ_FILE_TOO_LARGE':
    case 'FST_FILES_LIMIT':
    case 'FST_PARTS_LIMIT':
    case 'FST_FIELDS_LIMIT':
      return new AppError('payload_too_large', error.message);
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
    case 'FST_INVALID_MULTIPART_CONTENT_TYPE':
      return new AppError('unsupported_media_type', error.message);
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_PROTO_VIOLATION':
    case 'FST_ERR_INVALID_URL':
      return new AppError('bad_request', error.message);
    default:
      break;
  }
  if (error.statusCode === 429)
    return new AppError('rate_limited', 'Too many requests; slow down and try again shortly');
  if (error.statusCode && error.statusCode >= 400 && error.statusCode < 500) {
    const code =
      (Object.keys(ERROR_STATUS) as ErrorCode[]).find((c) => ERROR_STATUS[c] === error.statusCode) ?? 'bad_request';
    return new AppError(code, error.message);
  }
  return null;
}

// PostgreSQL SQLSTATE class 22 (data exception: a value that cannot be a date, a number…) is
// the caller's input, not our fault; say so with a 400 instead of a 500.
const isPostgresDataException = (error: unknown): boolean =>
  typeof error === 'object' &&
  error !== null &&
  'severity' in error &&
  /^22/.test(String((error as { code?: unknown }).code));

export function toAppError(error: unknown): AppError | null {
  if (error instanceof AppError) return error;
  if (isPostgresDataException(error)) return new AppError('validation_failed', 'A value in the request is not valid');
  if (error && typeof error === 'object' && 'statusCode' in error) return fromFastifyError(error as FastifyError);
  if (error && typeof error === 'object' && 'validation' in error) return fromFastifyError(error as FastifyError);
  return null;
}

export async function handleError(error: unknown, request: FastifyRequest, reply: FastifyReply): Promise<void> {
  const known = toAppError(error);
  if (!known) {
    // Log the failure for operators, but never the request body (it may hold personal data).
    request.log.error({ err: error }, 'unhandled error');
    const body: ErrorBody = { error: { code: 'internal', message: 'Something went wrong on our side. Try again.' } };
    await reply.status(500).send(body);
    return;
  }
  const body: ErrorBody = { error: { code: known.code, message: known.message } };
  if (known.details && known.status < 500) body.error.details = known.details;
  if (known.code === 'locked' || known.code === 'rate_limited') {
    const retry = known.details?.retryAfterSeconds;
    if (typeof retry === 'number') void reply.header('retry-after', String(retry));
  }
  await reply.status(known.status).send(body);
}
