/**
 * One DICOM association on one TCP connection, from A-ASSOCIATE-RQ to release or abort (PS3.8
 * section 9.2's state machine, reduced to what an acceptor does). PDUs are handled strictly in
 * order; the socket is paused while a stored instance is being recorded, so a fast sender cannot
 * queue unbounded data. Any protocol violation, oversized PDU or idle peer ends in A-ABORT and a
 * closed socket — never an exception out of this class.
 */
import type { Socket } from 'node:net';
import { CommandField, echoResponse, parseCommand, Status, storeResponse, type Command } from './dimse.ts';
import {
  abort,
  associateAccept,
  associateReject,
  dataPdus,
  parseAssociateRequest,
  parseDataPdu,
  PduReader,
  PduType,
  ProtocolError,
  Rejection,
  releaseResponse,
  type AssociateRequest,
  type Pdu,
  type Pdv,
} from './pdu.ts';
import { IMPLEMENTATION_CLASS_UID, IMPLEMENTATION_VERSION_NAME } from './part10.ts';
import { APPLICATION_CONTEXT, decideContext } from './sop-classes.ts';

export interface AssociationLimits {
  /** The largest P-DATA-TF PDU body accepted (and announced as our maximum length). */
  maxPduBytes: number;
  /** The largest data set accepted in one C-STORE; larger ones are answered with a failure status. */
  maxInstanceBytes: number;
  /** An association (or a connection that never asks for one) silent this long is aborted. */
  idleMs: number;
}

export type Admission = { accept: true; peerKey: string } | { accept: false; why: keyof typeof Rejection };

export interface ReceivedInstance {
  sopClassUid: string;
  sopInstanceUid: string;
  transferSyntaxUid: string;
  /** The data set's fragments, in order (P-DATA values, not yet joined). */
  dataSet: Buffer[];
}

/** What the association asks of the server: who may associate, and where instances go. */
export interface AssociationHandler {
  admit(request: AssociateRequest, address: string, overCapacity: boolean): Promise<Admission>;
  store(peerKey: string, instance: ReceivedInstance, address: string): Promise<{ status: number; comment?: string }>;
  /** A failure on our side (not the peer's protocol errors), for the log. */
  onError(error: unknown): void;
}

// An A-ASSOCIATE-RQ is a few hundred bytes; 64 KiB leaves room for many presentation contexts.
const MAX_REQUEST_PDU_BYTES = 64 * 1024;
// ARTIM (PS3.8 9.1.5): a connection that has not asked for an association within this is closed,
// however slowly it trickles bytes.
const REQUEST_DEADLINE_MS = 10_000;

interface PendingMessage {
  contextId: number;
  commandParts: Buffer[];
  command: Command | null;
  dataParts: Buffer[];
  dataBytes: number;
  /** The data set outgrew maxInstanceBytes: it is read to its end but not kept. */
  oversized: boolean;
}

export class Association {
  private state: 'awaiting-request' | 'established' | 'closed' = 'awaiting-request';
  private readonly reader: PduReader;
  private readonly queue: Pdu[] = [];
  private draining: Promise<void> | null = null;
  private contexts = new Map<number, { abstractSyntax: string; transferSyntax: string }>();
  private peerKey = '';
  private peerMaxPdu = 0;
  private message: PendingMessage | null = null;
  private readonly address: string;
  /** Resolves when the socket has closed. */
  readonly closed: Promise<void>;

  constructor(
    private readonly socket: Socket,
    private readonly handler: AssociationHandler,
    private readonly limits: AssociationLimits,
    private readonly calledAe: string,
    private readonly overCapacity: boolean,
  ) {
    this.address = normaliseAddress(socket.remoteAddress ?? '');
    this.reader = new PduReader(() =>
      this.state === 'awaiting-request' ? MAX_REQUEST_PDU_BYTES : this.limits.maxPduBytes,
    );
    this.closed = new Promise((resolve) => socket.once('close', () => resolve()));
    socket.setNoDelay(true);
    socket.setTimeout(limits.idleMs, () => this.abortWith(new ProtocolError('The peer was idle too long')));
    const artim = setTimeout(() => {
      if (this.state === 'awaiting-request') this.abortWith(new ProtocolError('No association request in time'));
    }, REQUEST_DEADLINE_MS);
    artim.unref();
    socket.once('close', () => clearTimeout(artim));
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', () => this.close());
    socket.on('close', () => this.close());
  }

  /** Ends the association from our side (server shutdown); resolves once its socket is closed and
   * an instance it was recording is committed or rolled back. */
  async abort(): Promise<void> {
    this.abortWith(new ProtocolError('The server is shutting down'));
    await Promise.all([this.closed, this.draining]);
  }

  private onData(chunk: Buffer): void {
    if (this.state === 'closed') return;
    try {
      this.queue.push(...this.reader.push(chunk));
    } catch (error) {
      this.abortWith(error);
      return;
    }
    this.draining ??= this.drain();
  }

  private async drain(): Promise<void> {
    // Yield once, so that `draining` is set before this can finish (and clear it).
    await Promise.resolve();
    this.socket.pause();
    try {
      for (let pdu = this.queue.shift(); pdu && this.state !== 'closed'; pdu = this.queue.shift()) {
        await this.handle(pdu);
      }
    } catch (error) {
      this.abortWith(error);
    } finally {
      this.draining = null;
      if (this.state !== 'closed') this.socket.resume();
    }
  }

  private async handle(pdu: Pdu): Promise<void> {
    if (this.state === 'awaiting-request') {
      if (pdu.type !== PduType.AssociateRq) throw new ProtocolError('Expected A-ASSOCIATE-RQ');
      await this.associate(parseAssociateRequest(pdu.body), pdu.body.readUInt16BE(0));
      return;
    }
    switch (pdu.type) {
      case PduType.Data:
        for (const pdv of parseDataPdu(pdu.body)) await this.onPdv(pdv);
        return;
      case PduType.ReleaseRq:
        this.state = 'closed';
        this.socket.end(releaseResponse());
        return;
      case PduType.Abort:
        this.close();
        return;
      default:
        throw new ProtocolError(`Unexpected PDU type ${pdu.type} in an established association`);
    }
  }

  private async associate(request: AssociateRequest, protocolVersion: number): Promise<void> {
    const refuse = (why: keyof typeof Rejection) => {
      this.state = 'closed';
      this.socket.end(associateReject(Rejection[why]));
    };
    // Bit 0 of the protocol version field is version 1, the only one there is (PS3.8 9.3.2).
    if ((protocolVersion & 1) === 0) return refuse('protocolVersionNotSupported');
    if (request.applicationContext !== APPLICATION_CONTEXT) return refuse('applicationContextNotSupported');
    if (request.calledAe !== this.calledAe) return refuse('calledAeNotRecognised');
    const admission = await this.handler.admit(request, this.address, this.overCapacity);
    if (!admission.accept) return refuse(admission.why);
    this.peerKey = admission.peerKey;
    this.peerMaxPdu = request.maxPduLength;
    const results = request.contexts.map((proposed) => {
      const decision = decideContext(proposed.abstractSyntax, proposed.transferSyntaxes);
      if (decision.result === 0) {
        this.contexts.set(proposed.id, {
          abstractSyntax: proposed.abstractSyntax,
          transferSyntax: decision.transferSyntax,
        });
      }
      return { id: proposed.id, ...decision };
    });
    this.state = 'established';
    this.socket.write(
      associateAccept({
        calledAe: request.calledAe,
        callingAe: request.callingAe,
        applicationContext: APPLICATION_CONTEXT,
        contexts: results,
        maxPduLength: this.limits.maxPduBytes,
        implementationClassUid: IMPLEMENTATION_CLASS_UID,
        implementationVersionName: IMPLEMENTATION_VERSION_NAME,
      }),
    );
  }

  private async onPdv(pdv: Pdv): Promise<void> {
    if (!this.contexts.has(pdv.contextId)) throw new ProtocolError('PDV on a presentation context not accepted');
    const message = (this.message ??= {
      contextId: pdv.contextId,
      commandParts: [],
      command: null,
      dataParts: [],
      dataBytes: 0,
      oversized: false,
    });
    if (pdv.contextId !== message.contextId) throw new ProtocolError('A message changed presentation context');
    if (pdv.command) {
      if (message.command) throw new ProtocolError('Command fragment after the command was complete');
      message.commandParts.push(pdv.data);
      if (!pdv.last) return;
      message.command = parseCommand(Buffer.concat(message.commandParts));
      if (!message.command.hasDataSet) await this.dispatch(message);
      return;
    }
    if (!message.command?.hasDataSet) throw new ProtocolError('Data fragment without a command that announces it');
    message.dataBytes += pdv.data.length;
    if (message.dataBytes > this.limits.maxInstanceBytes) {
      message.oversized = true;
      message.dataParts = [];
    } else {
      message.dataParts.push(pdv.data);
    }
    if (pdv.last) await this.dispatch(message);
  }

  private async dispatch(message: PendingMessage): Promise<void> {
    this.message = null;
    const command = message.command!;
    switch (command.commandField) {
      case CommandField.CEchoRq:
        this.send(message.contextId, echoResponse(command));
        return;
      case CommandField.CStoreRq: {
        const outcome = message.oversized
          ? {
              status: Status.OutOfResources,
              comment: `Instance larger than the ${this.limits.maxInstanceBytes} bytes accepted`,
            }
          : await this.store(message, command);
        this.send(message.contextId, storeResponse(command, outcome.status, outcome.comment));
        return;
      }
      case CommandField.CCancelRq:
        return; // nothing of ours runs long enough to cancel
      default:
        throw new ProtocolError(`Unsupported DIMSE command 0x${command.commandField.toString(16)}`);
    }
  }

  private async store(message: PendingMessage, command: Command): Promise<{ status: number; comment?: string }> {
    const context = this.contexts.get(message.contextId)!;
    if (command.affectedSopClassUid !== context.abstractSyntax) {
      return { status: Status.DataSetMismatch, comment: 'SOP class differs from the presentation context' };
    }
    try {
      return await this.handler.store(
        this.peerKey,
        {
          sopClassUid: command.affectedSopClassUid,
          sopInstanceUid: command.affectedSopInstanceUid,
          transferSyntaxUid: context.transferSyntax,
          dataSet: message.dataParts,
        },
        this.address,
      );
    } catch (error) {
      this.handler.onError(error);
      return { status: Status.ProcessingFailure, comment: 'The instance could not be stored' };
    }
  }

  private send(contextId: number, command: Buffer): void {
    for (const pdu of dataPdus(contextId, true, command, this.peerMaxPdu)) this.socket.write(pdu);
  }

  private abortWith(error: unknown): void {
    if (this.state === 'closed') return;
    if (!(error instanceof ProtocolError)) this.handler.onError(error);
    this.state = 'closed';
    // A-ABORT, then give the peer a moment to read it before the connection is cut.
    this.socket.end(abort(error instanceof ProtocolError ? 2 : 0));
    setTimeout(() => this.socket.destroy(), 1000).unref();
  }

  private close(): void {
    this.state = 'closed';
    this.queue.length = 0;
    if (!this.socket.destroyed) this.socket.destroy();
  }
}

/** IPv4 peers on a dual-stack socket appear as ::ffff:a.b.c.d; peers are listed by their IPv4 text. */
export function normaliseAddress(address: string): string {
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
}
