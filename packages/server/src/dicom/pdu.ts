/**
 * The DICOM Upper Layer protocol's PDUs (PS3.8 section 9.3), as much of it as a Storage SCP needs:
 * reading A-ASSOCIATE-RQ and P-DATA-TF, writing A-ASSOCIATE-AC/RJ, P-DATA-TF, A-RELEASE-RP and
 * A-ABORT. Pure byte work, no I/O. Every length field is checked against the bytes it claims, so
 * a lying or garbage PDU is a ProtocolError, never an out-of-bounds read.
 */

export const PduType = {
  AssociateRq: 0x01,
  AssociateAc: 0x02,
  AssociateRj: 0x03,
  Data: 0x04,
  ReleaseRq: 0x05,
  ReleaseRp: 0x06,
  Abort: 0x07,
} as const;

/** The peer broke the protocol; the association is aborted. */
export class ProtocolError extends Error {}

export interface Pdu {
  type: number;
  body: Buffer;
}

const HEADER_BYTES = 6;

/**
 * Cuts a byte stream into PDUs. Each PDU's body is copied once into a buffer of its declared size
 * (no re-concatenation per chunk); a declared size above `maxBodyBytes` is refused before any
 * memory is taken for it.
 */
export class PduReader {
  private readonly header = Buffer.alloc(HEADER_BYTES);
  private headerFill = 0;
  private body: Buffer | null = null;
  private bodyFill = 0;
  private type = 0;

  constructor(private readonly maxBodyBytes: () => number) {}

  /** Feeds bytes; returns the PDUs they complete, in order. */
  push(chunk: Buffer): Pdu[] {
    const out: Pdu[] = [];
    let offset = 0;
    while (offset < chunk.length) {
      if (this.body === null) {
        const take = Math.min(HEADER_BYTES - this.headerFill, chunk.length - offset);
        chunk.copy(this.header, this.headerFill, offset, offset + take);
        this.headerFill += take;
        offset += take;
        if (this.headerFill < HEADER_BYTES) break;
        this.type = this.header[0]!;
        if (this.type < PduType.AssociateRq || this.type > PduType.Abort) {
          throw new ProtocolError(`Unknown PDU type 0x${this.type.toString(16)}`);
        }
        const length = this.header.readUInt32BE(2);
        if (length > this.maxBodyBytes()) {
          throw new ProtocolError(`PDU of ${length} bytes exceeds the limit of ${this.maxBodyBytes()}`);
        }
        this.body = Buffer.allocUnsafe(length);
        this.bodyFill = 0;
      }
      const take = Math.min(this.body.length - this.bodyFill, chunk.length - offset);
      chunk.copy(this.body, this.bodyFill, offset, offset + take);
      this.bodyFill += take;
      offset += take;
      if (this.bodyFill === this.body.length) {
        out.push({ type: this.type, body: this.body });
        this.body = null;
        this.headerFill = 0;
      }
    }
    return out;
  }
}

export interface ProposedContext {
  id: number;
  abstractSyntax: string;
  transferSyntaxes: string[];
}

export interface AssociateRequest {
  calledAe: string;
  callingAe: string;
  applicationContext: string;
  contexts: ProposedContext[];
  /** The largest PDU the requestor can receive (0: unlimited). */
  maxPduLength: number;
  implementationClassUid: string;
}

/** PS3.8 9.3.2 (A-ASSOCIATE-RQ): fixed fields, then variable items of type / length / value. */
export function parseAssociateRequest(body: Buffer): AssociateRequest {
  if (body.length < 68) throw new ProtocolError('A-ASSOCIATE-RQ is too short');
  const request: AssociateRequest = {
    calledAe: aeTitle(body.subarray(4, 20)),
    callingAe: aeTitle(body.subarray(20, 36)),
    applicationContext: '',
    contexts: [],
    maxPduLength: 0,
    implementationClassUid: '',
  };
  for (const item of items(body, 68)) {
    if (item.type === 0x10) request.applicationContext = uid(item.value);
    else if (item.type === 0x20) request.contexts.push(parsePresentationContext(item.value));
    else if (item.type === 0x50) {
      for (const sub of items(item.value, 0)) {
        if (sub.type === 0x51) {
          if (sub.value.length !== 4) throw new ProtocolError('Maximum Length sub-item must hold 4 bytes');
          request.maxPduLength = sub.value.readUInt32BE(0);
        } else if (sub.type === 0x52) request.implementationClassUid = uid(sub.value);
      }
    }
  }
  if (!request.applicationContext) throw new ProtocolError('A-ASSOCIATE-RQ has no application context');
  return request;
}

function parsePresentationContext(value: Buffer): ProposedContext {
  if (value.length < 4) throw new ProtocolError('Presentation context item is too short');
  const context: ProposedContext = { id: value[0]!, abstractSyntax: '', transferSyntaxes: [] };
  for (const sub of items(value, 4)) {
    if (sub.type === 0x30) context.abstractSyntax = uid(sub.value);
    else if (sub.type === 0x40) context.transferSyntaxes.push(uid(sub.value));
  }
  return context;
}

/** Type (1 byte), reserved (1), length (2, big endian), value: the shape of every variable item. */
function* items(buffer: Buffer, start: number): Generator<{ type: number; value: Buffer }> {
  let offset = start;
  while (offset < buffer.length) {
    if (offset + 4 > buffer.length) throw new ProtocolError('Truncated item header');
    const length = buffer.readUInt16BE(offset + 2);
    const end = offset + 4 + length;
    if (end > buffer.length) throw new ProtocolError('Item length exceeds its PDU');
    yield { type: buffer[offset]!, value: buffer.subarray(offset + 4, end) };
    offset = end;
  }
}

/** AE titles are space-padded (PS3.5 6.2); leading and trailing spaces are not significant. */
function aeTitle(bytes: Buffer): string {
  return bytes.toString('latin1').trim();
}

/** UIDs may be padded with one NUL (or, from lenient senders, spaces). */
function uid(bytes: Buffer): string {
  return bytes.toString('latin1').replace(/[\0 ]+$/, '');
}

export interface PresentationContextResult {
  id: number;
  /** 0 acceptance, 3 abstract syntax not supported, 4 transfer syntaxes not supported (PS3.8 9.3.3.2). */
  result: 0 | 3 | 4;
  transferSyntax: string;
}

export interface AssociateAcceptance {
  calledAe: string;
  callingAe: string;
  applicationContext: string;
  contexts: PresentationContextResult[];
  maxPduLength: number;
  implementationClassUid: string;
  implementationVersionName: string;
}

export function associateAccept(ac: AssociateAcceptance): Buffer {
  const userInfo = Buffer.concat([
    item(0x51, u32(ac.maxPduLength)),
    item(0x52, Buffer.from(ac.implementationClassUid, 'latin1')),
    item(0x55, Buffer.from(ac.implementationVersionName, 'latin1')),
  ]);
  const fixed = Buffer.alloc(68);
  fixed.writeUInt16BE(1, 0); // protocol version
  fixed.write(ac.calledAe.padEnd(16, ' '), 4, 16, 'latin1');
  fixed.write(ac.callingAe.padEnd(16, ' '), 20, 16, 'latin1');
  return pdu(
    PduType.AssociateAc,
    Buffer.concat([
      fixed,
      item(0x10, Buffer.from(ac.applicationContext, 'latin1')),
      ...ac.contexts.map((c) =>
        item(
          0x21,
          Buffer.concat([Buffer.from([c.id, 0, c.result, 0]), item(0x40, Buffer.from(c.transferSyntax, 'latin1'))]),
        ),
      ),
      item(0x50, userInfo),
    ]),
  );
}

/** Why an association is refused (PS3.8 9.3.4): result, source and reason, as the standard codes them. */
export const Rejection = {
  callingAeNotRecognised: { result: 1, source: 1, reason: 3 },
  calledAeNotRecognised: { result: 1, source: 1, reason: 7 },
  applicationContextNotSupported: { result: 1, source: 1, reason: 2 },
  protocolVersionNotSupported: { result: 1, source: 2, reason: 2 },
  localLimitExceeded: { result: 2, source: 3, reason: 2 },
} as const;

export function associateReject(why: { result: number; source: number; reason: number }): Buffer {
  return pdu(PduType.AssociateRj, Buffer.from([0, why.result, why.source, why.reason]));
}

export const releaseResponse = (): Buffer => pdu(PduType.ReleaseRp, Buffer.alloc(4));

/** A-ABORT from the service provider (source 2); reason 0 unspecified, 2 unexpected PDU. */
export const abort = (reason = 0): Buffer => pdu(PduType.Abort, Buffer.from([0, 0, 2, reason]));

export interface Pdv {
  contextId: number;
  command: boolean;
  last: boolean;
  data: Buffer;
}

/** PS3.8 9.3.5: a P-DATA-TF holds one or more PDV items (length, context id, control header, data). */
export function parseDataPdu(body: Buffer): Pdv[] {
  const out: Pdv[] = [];
  let offset = 0;
  while (offset < body.length) {
    if (offset + 6 > body.length) throw new ProtocolError('Truncated PDV item');
    const length = body.readUInt32BE(offset);
    if (length < 2 || offset + 4 + length > body.length) throw new ProtocolError('PDV length exceeds its PDU');
    const control = body[offset + 5]!;
    out.push({
      contextId: body[offset + 4]!,
      command: (control & 1) === 1,
      last: (control & 2) === 2,
      data: body.subarray(offset + 6, offset + 4 + length),
    });
    offset += 4 + length;
  }
  return out;
}

/** One message (a command set, or a data set) as P-DATA-TF PDUs no larger than the peer accepts. */
export function dataPdus(contextId: number, command: boolean, data: Buffer, maxPduLength: number): Buffer[] {
  // A PDV item adds 6 bytes (length, context id, control header) inside the PDU body.
  const room = maxPduLength > 0 ? Math.max(maxPduLength - 6, 1) : data.length || 1;
  const out: Buffer[] = [];
  for (let offset = 0; offset < data.length || out.length === 0; offset += room) {
    const fragment = data.subarray(offset, offset + room);
    const last = offset + room >= data.length;
    const header = Buffer.alloc(6);
    header.writeUInt32BE(fragment.length + 2, 0);
    header[4] = contextId;
    header[5] = (command ? 1 : 0) | (last ? 2 : 0);
    out.push(pdu(PduType.Data, Buffer.concat([header, fragment])));
  }
  return out;
}

function pdu(type: number, body: Buffer): Buffer {
  const header = Buffer.alloc(HEADER_BYTES);
  header[0] = type;
  header.writeUInt32BE(body.length, 2);
  return Buffer.concat([header, body]);
}

function item(type: number, value: Buffer): Buffer {
  const header = Buffer.alloc(4);
  header[0] = type;
  header.writeUInt16BE(value.length, 2);
  return Buffer.concat([header, value]);
}

function u32(value: number): Buffer {
  const out = Buffer.alloc(4);
  out.writeUInt32BE(value, 0);
  return out;
}
