/**
 * multipart/related (RFC 2387) as DICOMweb uses it (PS3.18 8.6.1.2): STOW-RS requests arrive in it
 * and WADO-RS answers in it. Parsing works on the whole body (bounded by the route's body limit);
 * every malformation is a 400 that says what is wrong.
 */
import { randomUUID } from 'node:crypto';
import { AppError } from '@scanflow/domain';

export interface RelatedPart {
  /** The part's Content-Type, lower-cased without parameters ('' when absent). */
  type: string;
  /** The part's Content-Type as written (with its parameters). */
  contentType: string;
  body: Buffer;
}

/** Media type and parameters of a Content-Type or Accept entry (RFC 9110 8.3.1). */
export function parseMediaType(text: string): { type: string; params: Record<string, string> } {
  const [head = '', ...rest] = splitOutsideQuotes(text, ';');
  const params: Record<string, string> = {};
  for (const raw of rest) {
    const eq = raw.indexOf('=');
    if (eq < 0) continue;
    const key = raw.slice(0, eq).trim().toLowerCase();
    let value = raw.slice(eq + 1).trim();
    if (value.startsWith('"') && value.endsWith('"') && value.length >= 2) value = value.slice(1, -1);
    params[key] = value;
  }
  return { type: head.trim().toLowerCase(), params };
}

function splitOutsideQuotes(text: string, separator: string): string[] {
  const out: string[] = [];
  let current = '';
  let quoted = false;
  for (const ch of text) {
    if (ch === '"') quoted = !quoted;
    if (ch === separator && !quoted) {
      out.push(current);
      current = '';
    } else current += ch;
  }
  out.push(current);
  return out;
}

/** The entries of an Accept header, in the order given (quality values are not weighed). */
export function parseAccept(header: string | undefined): { type: string; params: Record<string, string> }[] {
  if (!header?.trim()) return [];
  return splitOutsideQuotes(header, ',')
    .map((entry) => parseMediaType(entry))
    .filter((e) => e.type !== '');
}

const CRLF_CRLF = Buffer.from('\r\n\r\n');

/** Splits a multipart/related body into its parts. */
export function parseMultipartRelated(contentType: string, body: Buffer, maxParts: number): RelatedPart[] {
  const { type, params } = parseMediaType(contentType);
  if (type !== 'multipart/related') throw new AppError('unsupported_media_type', 'Send multipart/related');
  const boundary = params.boundary;
  if (!boundary || boundary.length > 200) {
    throw new AppError('bad_request', 'The multipart/related Content-Type has no boundary parameter');
  }
  const delimiter = Buffer.from(`--${boundary}`);
  let at = body.indexOf(delimiter);
  if (at < 0) throw new AppError('bad_request', 'The body does not contain the multipart boundary it declares');
  const parts: RelatedPart[] = [];
  for (;;) {
    at += delimiter.length;
    if (body.subarray(at, at + 2).toString('latin1') === '--') break; // the close delimiter
    const headerEnd = body.indexOf(CRLF_CRLF, at);
    if (headerEnd < 0) throw new AppError('bad_request', `Part ${parts.length + 1} has no end of its headers`);
    const next = body.indexOf(Buffer.concat([Buffer.from('\r\n'), delimiter]), headerEnd + 4);
    if (next < 0) {
      throw new AppError('bad_request', `Part ${parts.length + 1} is not terminated by the boundary (truncated body?)`);
    }
    const headers = body.subarray(at, headerEnd).toString('latin1').split('\r\n');
    const contentTypeLine = headers.find((line) => /^content-type\s*:/i.test(line));
    const partType = contentTypeLine ? contentTypeLine.slice(contentTypeLine.indexOf(':') + 1).trim() : '';
    parts.push({
      type: parseMediaType(partType).type,
      contentType: partType,
      body: body.subarray(headerEnd + 4, next),
    });
    if (parts.length > maxParts) throw new AppError('payload_too_large', `At most ${maxParts} parts per request`);
    at = next + 2;
  }
  if (parts.length === 0) throw new AppError('bad_request', 'The multipart/related body has no parts');
  return parts;
}

/** Builds a multipart/related body; returns it with its Content-Type (`type` names the parts' type). */
export function buildMultipartRelated(
  type: string,
  parts: { contentType: string; body: Uint8Array; location?: string }[],
): { contentType: string; body: Buffer } {
  const boundary = `scanflow-${randomUUID()}`;
  const chunks: Buffer[] = [];
  for (const part of parts) {
    const location = part.location ? `Content-Location: ${part.location}\r\n` : '';
    chunks.push(
      Buffer.from(`--${boundary}\r\nContent-Type: ${part.contentType}\r\n${location}\r\n`),
      Buffer.from(part.body.buffer, part.body.byteOffset, part.body.byteLength),
      Buffer.from('\r\n'),
    );
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return {
    contentType: `multipart/related; type="${type}"; boundary=${boundary}`,
    body: Buffer.concat(chunks),
  };
}
