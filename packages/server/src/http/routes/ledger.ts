/**
 * The tamper-evident log over HTTP (SPEC L1, L2). An organisation's administrators read their own
 * log: checkpoints with their cosignatures, entries, RFC 9162 inclusion and consistency proofs, the
 * export, and an on-demand checkpoint. Public: the log keys (`/.well-known/scanflow-ledger-keys`)
 * and, when this node is a witness, c2sp.org/tlog-witness `add-checkpoint`.
 */
import { once } from 'node:events';
import { PassThrough } from 'node:stream';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { decide, notFound } from '@scanflow/domain';
import type { FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import type { Queryable } from '../../db/database.ts';
import { errorReplies } from '../schemas.ts';
import { sessionOf } from '../request-context.ts';
import { enforce, inOrganisation } from '../../services/access.ts';
import { ledgerFor, SYSTEM_LOG } from '../../services/ledger-service.ts';

const Checkpoint = Type.Object({
  logId: Type.String(),
  origin: Type.String(),
  size: Type.Integer(),
  rootHash: Type.String({ description: 'Base64 SHA-256 root, as in the note' }),
  note: Type.String({ description: 'The C2SP signed checkpoint note, with the witnesses’ cosignature lines' }),
  createdAt: Type.String(),
  cosignatures: Type.Array(Type.Object({ witness: Type.String(), cosignedAt: Type.String() })),
});

const Entry = Type.Object({
  logId: Type.String(),
  index: Type.Integer(),
  entry: Type.Unknown({ description: 'The parsed entry; null when the stored bytes are not canonical' }),
  data: Type.String({ description: 'Base64 of the canonical entry bytes (the leaf data)' }),
  leafHash: Type.String({ description: 'Hex SHA-256(0x00 || data)' }),
});

const Proof = Type.Array(Type.String({ description: 'Base64 SHA-256 node hash' }));
const Index = Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER });

export const ledgerRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const ledger = ledgerFor(app.ctx);
  const read = <T>(request: FastifyRequest, fn: (tx: Queryable) => Promise<T>): Promise<T> => {
    request.auditTarget = { resourceType: 'ledger', resourceId: request.session?.actor.orgId ?? null };
    return inOrganisation(app.ctx.db, sessionOf(request), 'ledger.read', fn);
  };
  const orgOf = (request: FastifyRequest) => sessionOf(request).actor.orgId;

  app.get(
    '/api/v1/ledger/checkpoints/latest',
    {
      config: { audit: 'ledger.read' },
      schema: {
        tags: ['ledger'],
        summary: "The organisation's latest signed checkpoint, with its witnesses' cosignatures",
        response: { 200: Checkpoint, ...errorReplies(401, 403, 404) },
      },
    },
    async (request) => {
      const cp = await read(request, (tx) => ledger.latestCheckpoint(tx, orgOf(request)));
      if (!cp) throw notFound('A signed checkpoint');
      return cp;
    },
  );

  app.get(
    '/api/v1/ledger/checkpoints',
    {
      config: { audit: 'ledger.read' },
      schema: {
        tags: ['ledger'],
        summary: 'Signed checkpoints, largest first (page with `before`, a tree size)',
        querystring: Type.Object({
          limit: Type.Integer({ minimum: 1, maximum: 500, default: 50 }),
          before: Type.Optional(Index),
        }),
        response: { 200: Type.Object({ items: Type.Array(Checkpoint) }), ...errorReplies(400, 401, 403) },
      },
    },
    async (request) => ({
      items: await read(request, (tx) =>
        ledger.listCheckpoints(tx, orgOf(request), { limit: request.query.limit, beforeSize: request.query.before }),
      ),
    }),
  );

  app.post(
    '/api/v1/ledger/checkpoints',
    {
      config: { audit: 'ledger.checkpoint' },
      schema: {
        tags: ['ledger'],
        summary: 'Sign a checkpoint now (after sequencing every waiting event) and ask the witnesses to cosign',
        response: { 200: Checkpoint, ...errorReplies(401, 403, 404, 409) },
      },
    },
    async (request) => {
      const orgId = orgOf(request);
      request.auditTarget = { resourceType: 'ledger', resourceId: orgId };
      await inOrganisation(app.ctx.db, sessionOf(request), 'ledger.checkpoint', async () => undefined);
      const cp = await ledger.checkpointNow(orgId);
      if (!cp) throw notFound('A signed checkpoint');
      request.auditTarget.details = { size: cp.size };
      return cp;
    },
  );

  app.get(
    '/api/v1/ledger/entries/:index',
    {
      config: { audit: 'ledger.read' },
      schema: {
        tags: ['ledger'],
        summary: 'One log entry by leaf index',
        params: Type.Object({ index: Index }),
        response: { 200: Entry, ...errorReplies(400, 401, 403, 404) },
      },
    },
    async (request) => read(request, (tx) => ledger.entry(tx, orgOf(request), request.params.index)),
  );

  app.get(
    '/api/v1/ledger/proofs/inclusion',
    {
      config: { audit: 'ledger.read' },
      schema: {
        tags: ['ledger'],
        summary: 'RFC 9162 inclusion proof of an entry in a checkpoint (default: the latest)',
        querystring: Type.Object({ index: Index, size: Type.Optional(Index) }),
        response: {
          200: Type.Object({ entry: Entry, checkpoint: Checkpoint, proof: Proof }),
          ...errorReplies(400, 401, 403, 404),
        },
      },
    },
    async (request) =>
      read(request, (tx) => ledger.inclusionProof(tx, orgOf(request), request.query.index, request.query.size)),
  );

  app.get(
    '/api/v1/ledger/proofs/consistency',
    {
      config: { audit: 'ledger.read' },
      schema: {
        tags: ['ledger'],
        summary: 'RFC 9162 consistency proof between two checkpoints (`to` default: the latest)',
        querystring: Type.Object({ from: Index, to: Type.Optional(Index) }),
        response: {
          200: Type.Object({ from: Checkpoint, to: Checkpoint, proof: Proof }),
          ...errorReplies(400, 401, 403, 404),
        },
      },
    },
    async (request) =>
      read(request, (tx) => ledger.consistencyProof(tx, orgOf(request), request.query.from, request.query.to)),
  );

  app.get(
    '/api/v1/ledger/export',
    {
      config: { audit: 'ledger.export' },
      schema: {
        tags: ['ledger'],
        summary: 'The whole log as JSON Lines (scanflow-ledger-export/v1: header, checkpoints, entries)',
        produces: ['application/x-ndjson'],
        response: errorReplies(401, 403),
      },
    },
    async (request, reply) => {
      const stream = new PassThrough();
      const write = async (chunk: string) => {
        if (stream.write(chunk)) return;
        await Promise.race([once(stream, 'drain'), once(stream, 'close')]);
        if (stream.destroyed) throw new Error('the client went away');
      };
      // Asked before the key is loaded (or made): a refused caller causes no work.
      const { actor } = sessionOf(request);
      enforce(decide(actor, 'ledger.read', { kind: 'organisation', orgId: actor.orgId }), 'Organisation');
      const logKey = (await ledger.logSigner(orgOf(request))).verifierKey;
      const done = read(request, (tx) => ledger.writeExport(tx, orgOf(request), logKey, write));
      done.then(
        () => stream.end(),
        (error: unknown) => stream.destroy(error as Error),
      );
      return reply
        .type('application/x-ndjson')
        .header('content-disposition', `attachment; filename="ledger-${orgOf(request)}.jsonl"`)
        .send(stream);
    },
  );

  app.get(
    '/.well-known/scanflow-ledger-keys',
    {
      config: { auth: false },
      schema: {
        tags: ['ledger'],
        summary: "This node's public keys: the system log's and its witness key (signed-note verifier keys)",
        response: { 200: Type.Object({ systemLog: Type.String(), witness: Type.String() }) },
      },
    },
    async () => ({
      systemLog: (await ledger.logSigner(SYSTEM_LOG)).verifierKey,
      witness: (await ledger.witnessCosigner()).verifierKey,
    }),
  );

  app.get(
    '/.well-known/scanflow-ledger-keys/:logId',
    {
      config: { auth: false },
      schema: {
        tags: ['ledger'],
        summary: "A log's public key (organisation id, or `system`) as a signed-note verifier key",
        params: Type.Object({ logId: Type.String({ maxLength: 64 }) }),
        response: {
          200: Type.Object({ logId: Type.String(), origin: Type.String(), verifierKey: Type.String() }),
          ...errorReplies(404),
        },
      },
    },
    async (request) => {
      const verifierKey = await ledger.verifierKey(request.params.logId);
      if (!verifierKey) throw notFound('Log');
      return { logId: request.params.logId, origin: ledger.originOf(request.params.logId), verifierKey };
    },
  );

  // c2sp.org/tlog-witness: unauthenticated by design; trust comes from the followed logs' keys.
  app.post(
    '/api/v1/ledger/witness/add-checkpoint',
    {
      config: { auth: false, rateLimit: { max: 600, timeWindow: '1 minute' } },
      schema: {
        tags: ['ledger'],
        summary: 'Witness: cosign a followed log’s checkpoint if consistent (c2sp.org/tlog-witness)',
        consumes: ['text/plain'],
        body: Type.String({ maxLength: 64 * 1024 }),
      },
    },
    async (request, reply) => {
      const result = await ledger.addCheckpoint(request.body, request.ip);
      return reply.status(result.status).type(result.contentType).send(result.body);
    },
  );
};
