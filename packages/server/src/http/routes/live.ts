/**
 * GET /api/v1/live: the live channel (SPEC C1) over WebSocket. The protocol is described in
 * live/connection.ts; this plugin owns the process's hub, started with the app and stopped with it.
 */
import fastifyWebsocket from '@fastify/websocket';
import type { FastifyPluginAsync } from 'fastify';
import { Type } from 'typebox';
import { CLOSE, LiveConnection, MAX_CLIENT_FRAME_BYTES } from '../../live/connection.ts';
import { LiveHub } from '../../live/hub.ts';

export const liveRoutes: FastifyPluginAsync = async (app) => {
  const hub = new LiveHub(app.ctx, {
    // Revocations in this process close connections at once ('sessions-revoked'); those made by
    // another process sharing the database, within this interval.
    sessionCheckMs: 15_000,
    // A client away for longer reloads its views instead of replaying.
    retentionSeconds: 24 * 3600,
    onError: (error, what) => app.log.error({ err: error }, `live: failed ${what}`),
  });
  await hub.start();
  app.addHook('onClose', () => hub.stop());
  app.decorate('live', hub);

  // Frames a little over the protocol's limit reach the connection, which closes with a reason;
  // far larger ones are refused by ws itself (1009) before they are buffered.
  await app.register(fastifyWebsocket, { options: { maxPayload: 4 * MAX_CLIENT_FRAME_BYTES } });

  app.route({
    method: 'GET',
    url: '/api/v1/live',
    config: { auth: false },
    schema: {
      tags: ['live'],
      summary: 'Live updates over WebSocket: scan status, urgent cases, chat, annotations, second opinions',
      description:
        'Open a WebSocket, then send {"type":"auth","token":"<access token>","lastEventId":<optional>} as the ' +
        'first message (never put the token in the URL). The server answers with the events missed since ' +
        'lastEventId (if given), then {"type":"ready","lastEventId":n}, then {"type":"event",id,kind,at,data} as ' +
        'they happen: kinds scan.status, scan.urgent, discussion.message, annotation.changed, ' +
        'second_opinion.changed, each only to those the access policy lets see it. Ids increase; keep the ' +
        'last one and resume with it after a drop. {"type":"reset"} means the resume point is too old: reload. ' +
        'Send {"type":"auth","token":…} again with a refreshed token before the old one expires. Close codes: ' +
        `${CLOSE.malformed} malformed message, ${CLOSE.unauthorized} not signed in / session ended / token expired, ` +
        `${CLOSE.forbidden} refused, ${CLOSE.tooBig} message too big, ${CLOSE.behind} too far behind (reconnect).`,
      response: { 426: Type.Ref('ErrorReply') },
    },
    // (A `websocket: true` route would be left out of the OpenAPI document.)
    wsHandler: (socket, request) => {
      new LiveConnection(socket, hub, app.ctx, app.services.auth, request.ip, request.log);
    },
    handler: async (_request, reply) =>
      reply
        .status(426)
        .header('upgrade', 'websocket')
        .send({
          error: { code: 'upgrade_required', message: 'Open this address as a WebSocket (see the description)' },
        }),
  });
};

declare module 'fastify' {
  interface FastifyInstance {
    live: LiveHub;
  }
}
