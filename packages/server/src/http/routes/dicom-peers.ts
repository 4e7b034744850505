/** /api/v1/admin/dicom-peers: the calling AE titles the DICOM listener accepts for the organisation. */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { errorReplies, Uuid } from '../schemas.ts';
import { sessionOf } from '../request-context.ts';
import { DicomPeerService } from '../../services/dicom-peer-service.ts';

const PeerView = Type.Object({
  id: Type.String(),
  aeTitle: Type.String(),
  addresses: Type.Array(Type.String()),
  description: Type.Union([Type.String(), Type.Null()]),
  createdAt: Type.String(),
});

export const dicomPeerRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const peers = new DicomPeerService(app.ctx);
  const view = (p: {
    id: string;
    aeTitle: string;
    addresses: string[];
    description: string | null;
    createdAt: string;
  }) => ({
    id: p.id,
    aeTitle: p.aeTitle,
    addresses: p.addresses,
    description: p.description,
    createdAt: p.createdAt,
  });

  app.get(
    '/admin/dicom-peers',
    {
      config: { audit: 'dicom_peer.list' },
      schema: {
        tags: ['admin'],
        summary: 'DICOM peers (calling AE titles) the listener accepts for this organisation',
        response: { 200: Type.Object({ items: Type.Array(PeerView) }), ...errorReplies(401, 403) },
      },
    },
    async (request) => ({ items: (await peers.list(sessionOf(request))).map(view) }),
  );

  app.post(
    '/admin/dicom-peers',
    {
      config: { audit: 'dicom_peer.add' },
      schema: {
        tags: ['admin'],
        summary: 'Accept C-STOREs from a calling AE title (optionally only from the given addresses)',
        body: Type.Object({
          aeTitle: Type.String({ minLength: 1, maxLength: 16 }),
          addresses: Type.Optional(Type.Array(Type.String({ maxLength: 45 }), { maxItems: 32 })),
          description: Type.Optional(Type.String({ maxLength: 200 })),
        }),
        response: { 201: PeerView, ...errorReplies(400, 401, 403, 409) },
      },
    },
    async (request, reply) => {
      const peer = await peers.add(sessionOf(request), request.body);
      request.auditTarget = { resourceType: 'dicom_peer', resourceId: peer.id, details: { aeTitle: peer.aeTitle } };
      return reply.status(201).send(view(peer));
    },
  );

  app.delete(
    '/admin/dicom-peers/:id',
    {
      config: { audit: 'dicom_peer.remove' },
      schema: {
        tags: ['admin'],
        summary: 'Stop accepting a DICOM peer (new associations from it are rejected)',
        params: Type.Object({ id: Uuid }),
        response: { 204: Type.Null(), ...errorReplies(401, 403, 404) },
      },
    },
    async (request, reply) => {
      request.auditTarget = { resourceType: 'dicom_peer', resourceId: request.params.id };
      await peers.remove(sessionOf(request), request.params.id);
      return reply.status(204).send(null);
    },
  );
};
