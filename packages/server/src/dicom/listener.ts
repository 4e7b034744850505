/**
 * The DICOM listener (SPEC I3): a Storage SCP (C-ECHO, C-STORE) on DICOM_HOST:DICOM_PORT under
 * the AE title DICOM_AE_TITLE. A calling AE title is accepted only if an organisation lists it
 * (and, where the listing names addresses, only from those); that organisation then owns every
 * instance of the association, which enters through the same ingest path as an upload.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { AppError } from '@scanflow/domain';
import type { AppContext } from '../context.ts';
import { withSystem } from '../db/scope.ts';
import { findActivePeer, type DicomPeer } from '../repositories/dicom-peers.ts';
import { ingestInstances } from '../services/ingest.ts';
import { Association, type AssociationHandler, type ReceivedInstance } from './association.ts';
import { Status } from './dimse.ts';
import { wrapPart10 } from './part10.ts';

/** Announced as our maximum PDU length: a small image arrives in a PDU or two. */
export const MAX_PDU_BYTES = 1024 * 1024;
/** Associations served at once; more are refused as transient (local limit exceeded). */
export const MAX_ASSOCIATIONS = 64;
const IDLE_MS = 60_000;

export interface DicomListener {
  port: number;
  close(): Promise<void>;
}

type Log = { info(obj: object, msg: string): void; error(obj: object, msg: string): void };

export async function startDicomListener(
  ctx: AppContext,
  log: Log,
  options: { port?: number } = {},
): Promise<DicomListener> {
  const handler = peerHandler(ctx, log);
  const associations = new Set<Association>();
  const limits = { maxPduBytes: MAX_PDU_BYTES, maxInstanceBytes: ctx.config.maxUploadBytes, idleMs: IDLE_MS };
  const server: Server = createServer((socket: Socket) => {
    const association = new Association(
      socket,
      handler,
      limits,
      ctx.config.dicomAeTitle,
      associations.size >= MAX_ASSOCIATIONS,
    );
    associations.add(association);
    void association.closed.then(() => associations.delete(association));
  });
  // Connections beyond this are closed at once; those between MAX_ASSOCIATIONS and this are
  // answered with A-ASSOCIATE-RJ (transient), so a well-behaved sender knows to retry.
  server.maxConnections = MAX_ASSOCIATIONS * 2;
  // A listening error after start-up (never expected) is logged, not thrown into the process.
  server.on('error', (error) => log.error({ err: error }, 'DICOM listener error'));
  const port = options.port ?? ctx.config.dicomPort;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, ctx.config.dicomHost, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const bound = (server.address() as { port: number }).port;
  log.info({ aeTitle: ctx.config.dicomAeTitle, host: ctx.config.dicomHost, port: bound }, 'DICOM listener started');
  return {
    port: bound,
    async close() {
      const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
      await Promise.all([...associations].map((a) => a.abort()));
      await stopped;
    },
  };
}

/** Admission by the accepted-peer list, storage through the ingest path, and the audit of both. */
function peerHandler(ctx: AppContext, log: Log): AssociationHandler {
  const peers = new Map<string, DicomPeer>();
  return {
    async admit(request, address, overCapacity) {
      const audit = (outcome: 'success' | 'denied', orgId: string | null, reason: string | null) =>
        ctx.audit.record({
          orgId,
          actorUserId: null,
          actorRole: 'system',
          action: 'dicom.associate',
          resourceType: 'dicom_peer',
          resourceId: peer?.id ?? null,
          outcome,
          clientAddress: address,
          reason,
          details: { callingAe: request.callingAe, calledAe: request.calledAe },
        });
      // Looked up before any organisation is known, as sign-in looks up a user.
      const peer = await withSystem(ctx.db, (tx) => findActivePeer(tx, request.callingAe));
      if (!peer || (peer.addresses.length > 0 && !peer.addresses.includes(address))) {
        await audit('denied', peer?.orgId ?? null, 'calling AE title not accepted from this address');
        return { accept: false, why: 'callingAeNotRecognised' };
      }
      if (overCapacity) {
        await audit('denied', peer.orgId, 'too many associations at once');
        return { accept: false, why: 'localLimitExceeded' };
      }
      await audit('success', peer.orgId, null);
      peers.set(peer.id, peer);
      return { accept: true, peerKey: peer.id };
    },

    async store(peerKey, instance, address) {
      const peer = peers.get(peerKey)!;
      try {
        await ingestInstances(ctx, {
          orgId: peer.orgId,
          source: 'dimse',
          actor: { userId: null, role: 'system', scope: { orgId: peer.orgId, userId: null, dbRole: 'system' } },
          files: [{ filename: `${instance.sopInstanceUid}.dcm`, bytes: asPart10(instance, peer) }],
          patient: { of: 'dicom' },
          onDuplicate: 'keep-existing',
          auditDetails: { callingAe: peer.aeTitle },
          clientAddress: address,
        });
        return { status: Status.Success };
      } catch (error) {
        const refusal = storeRefusal(error);
        if (refusal.status === Status.ProcessingFailure) log.error({ err: error }, 'DICOM C-STORE failed');
        await ctx.audit.record({
          orgId: peer.orgId,
          actorUserId: null,
          actorRole: 'system',
          action: 'scan.ingest',
          resourceType: 'scan',
          outcome: 'failure',
          clientAddress: address,
          reason: refusal.reason,
          details: { source: 'dimse', callingAe: peer.aeTitle, sopInstanceUid: instance.sopInstanceUid },
        });
        return { status: refusal.status, comment: refusal.reason };
      }
    },

    onError(error) {
      log.error({ err: error }, 'DICOM association failed');
    },
  };
}

function asPart10(instance: ReceivedInstance, peer: DicomPeer): Buffer {
  return wrapPart10(instance.dataSet, {
    sopClassUid: instance.sopClassUid,
    sopInstanceUid: instance.sopInstanceUid,
    transferSyntaxUid: instance.transferSyntaxUid,
    sourceAe: peer.aeTitle,
  });
}

/** The C-STORE status for a refusal: the sender's data (C000, A700) or our failure (0110). */
function storeRefusal(error: unknown): { status: number; reason: string } {
  if (!(error instanceof AppError)) {
    return { status: Status.ProcessingFailure, reason: 'Processing failure on the receiving side' };
  }
  const status = error.code === 'payload_too_large' ? Status.OutOfResources : Status.CannotUnderstand;
  return { status, reason: error.message };
}
