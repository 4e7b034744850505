/**
 * An organisation's accepted DICOM peers (SPEC I3): the calling AE titles its modalities and PACS
 * send from, optionally tied to their addresses. Administrators list, add and retire them; the
 * listener admits an association only for a title listed here.
 */
import { isIP } from 'node:net';
import { AppError, notFound } from '@scanflow/domain';
import type { AppContext } from '../context.ts';
import { inOrganisation } from './access.ts';
import type { AuthenticatedSession } from './auth-service.ts';
import { isValidAeTitle } from '../dicom/ae-title.ts';
import { insertPeer, listActivePeers, retirePeer, type DicomPeer } from '../repositories/dicom-peers.ts';

export interface NewDicomPeer {
  aeTitle: string;
  addresses?: string[] | undefined;
  description?: string | undefined;
}

export class DicomPeerService {
  constructor(private readonly ctx: AppContext) {}

  list(session: AuthenticatedSession): Promise<DicomPeer[]> {
    return inOrganisation(this.ctx.db, session, 'dicom_peer.list', (tx) => listActivePeers(tx));
  }

  async add(session: AuthenticatedSession, input: NewDicomPeer): Promise<DicomPeer> {
    const aeTitle = input.aeTitle.trim();
    if (!isValidAeTitle(aeTitle)) {
      throw new AppError('validation_failed', 'aeTitle must be 1 to 16 printable ASCII characters without a backslash');
    }
    const addresses = [...new Set((input.addresses ?? []).map((a) => a.trim()))];
    const bad = addresses.filter((a) => isIP(a) === 0);
    if (bad.length > 0) throw new AppError('validation_failed', `Not an IP address: ${bad.join(', ')}`);
    try {
      return await inOrganisation(this.ctx.db, session, 'dicom_peer.manage', (tx) =>
        insertPeer(tx, {
          orgId: session.actor.orgId,
          aeTitle,
          addresses,
          description: input.description?.trim() || null,
          createdBy: session.actor.userId,
        }),
      );
    } catch (error) {
      // One title, one organisation: the listener must know whose an association is.
      if ((error as { code?: unknown }).code === '23505') {
        throw new AppError('conflict', `The AE title ${aeTitle} is already in use; choose another for this sender`);
      }
      throw error;
    }
  }

  async remove(session: AuthenticatedSession, id: string): Promise<void> {
    const retired = await inOrganisation(this.ctx.db, session, 'dicom_peer.manage', (tx) =>
      retirePeer(tx, id, session.actor.userId),
    );
    if (!retired) throw notFound('DICOM peer');
  }
}
