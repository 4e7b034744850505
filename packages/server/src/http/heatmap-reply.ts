import type { FastifyReply, FastifyRequest } from 'fastify';
import { Type } from 'typebox';

/** The replies a heatmap picture route documents besides its errors. */
export const heatmapPictureReplies = {
  200: Type.Any({ description: 'image/png' }),
  304: Type.Null({ description: 'Not modified: If-None-Match names the current run' }),
};

/**
 * Sends a heatmap picture. A run's picture never changes (runs are versioned, never overwritten),
 * so an address naming the version may be cached. An address meaning "the current run" changes
 * when a doctor re-runs the analysis: the browser must ask again each time (`no-cache`), and an
 * unchanged run answers 304 by its ETag, so the overlay on screen is never the previous run's.
 */
export function sendHeatmapPicture(
  request: FastifyRequest,
  reply: FastifyReply,
  scanId: string,
  picture: { png: Buffer; label: string; version: number },
  kind: 'heatmap' | 'overlay',
  addressedBy: 'version' | 'current',
): FastifyReply {
  const etag = `"${scanId}.${picture.version}.${kind}"`;
  reply.headers({
    'cache-control': addressedBy === 'version' ? 'private, max-age=86400, immutable' : 'private, no-cache',
    etag,
    'x-heatmap-label': picture.label,
    'x-analysis-version': String(picture.version),
  });
  if (request.headers['if-none-match'] === etag) return reply.status(304).send();
  return reply.header('content-type', 'image/png').send(picture.png);
}
