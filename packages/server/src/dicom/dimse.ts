/**
 * DIMSE command sets (PS3.7 section 9 and annex E): group 0000 elements, always Implicit VR Little
 * Endian whatever the presentation context's transfer syntax. Reads any command a peer sends and
 * writes the two responses a Storage SCP gives (C-ECHO-RSP, C-STORE-RSP). Pure byte work.
 */
import { ProtocolError } from './pdu.ts';

export const CommandField = {
  CStoreRq: 0x0001,
  CStoreRsp: 0x8001,
  CEchoRq: 0x0030,
  CEchoRsp: 0x8030,
  CCancelRq: 0x0fff,
} as const;

/** (0000,0800) Command Data Set Type: this value says no data set follows. */
export const NO_DATA_SET = 0x0101;

/** C-STORE statuses (PS3.4 B.2.3, PS3.7 annex C). */
export const Status = {
  Success: 0x0000,
  /** Refused: out of resources (here: the instance is larger than this server accepts). */
  OutOfResources: 0xa700,
  /** Error: data set does not match SOP class. */
  DataSetMismatch: 0xa900,
  /** Error: cannot understand (the instance could not be read or decoded). */
  CannotUnderstand: 0xc000,
  /** Failure: processing failure (something on this side went wrong). */
  ProcessingFailure: 0x0110,
} as const;

const Tag = {
  GroupLength: 0x0000,
  AffectedSopClassUid: 0x0002,
  CommandField: 0x0100,
  MessageId: 0x0110,
  MessageIdBeingRespondedTo: 0x0120,
  CommandDataSetType: 0x0800,
  Status: 0x0900,
  ErrorComment: 0x0902,
  AffectedSopInstanceUid: 0x1000,
} as const;

export interface Command {
  commandField: number;
  messageId: number;
  affectedSopClassUid: string;
  affectedSopInstanceUid: string;
  hasDataSet: boolean;
}

/** Reads a command set; elements of other groups, or that overrun the buffer, are a protocol error. */
export function parseCommand(bytes: Buffer): Command {
  const values = new Map<number, Buffer>();
  let offset = 0;
  while (offset < bytes.length) {
    if (offset + 8 > bytes.length) throw new ProtocolError('Truncated command element');
    const group = bytes.readUInt16LE(offset);
    const element = bytes.readUInt16LE(offset + 2);
    const length = bytes.readUInt32LE(offset + 4);
    if (group !== 0x0000) throw new ProtocolError('A command set holds only group 0000');
    if (offset + 8 + length > bytes.length) throw new ProtocolError('Command element length exceeds the command');
    values.set(element, bytes.subarray(offset + 8, offset + 8 + length));
    offset += 8 + length;
  }
  const us = (element: number): number | undefined => {
    const value = values.get(element);
    return value && value.length >= 2 ? value.readUInt16LE(0) : undefined;
  };
  const text = (element: number): string =>
    (values.get(element)?.toString('latin1') ?? '').replace(/[\0 ]+$/, '').replace(/^ +/, '');
  const commandField = us(Tag.CommandField);
  if (commandField === undefined) throw new ProtocolError('The command set has no Command Field');
  return {
    commandField,
    messageId: us(Tag.MessageId) ?? 0,
    affectedSopClassUid: text(Tag.AffectedSopClassUid),
    affectedSopInstanceUid: text(Tag.AffectedSopInstanceUid),
    hasDataSet: us(Tag.CommandDataSetType) !== NO_DATA_SET,
  };
}

export function echoResponse(request: Command): Buffer {
  return encodeCommand([
    [Tag.AffectedSopClassUid, uidValue(request.affectedSopClassUid)],
    [Tag.CommandField, usValue(CommandField.CEchoRsp)],
    [Tag.MessageIdBeingRespondedTo, usValue(request.messageId)],
    [Tag.CommandDataSetType, usValue(NO_DATA_SET)],
    [Tag.Status, usValue(Status.Success)],
  ]);
}

export function storeResponse(request: Command, status: number, errorComment?: string): Buffer {
  const elements: [number, Buffer][] = [
    [Tag.AffectedSopClassUid, uidValue(request.affectedSopClassUid)],
    [Tag.CommandField, usValue(CommandField.CStoreRsp)],
    [Tag.MessageIdBeingRespondedTo, usValue(request.messageId)],
    [Tag.CommandDataSetType, usValue(NO_DATA_SET)],
    [Tag.Status, usValue(status)],
  ];
  // (0000,0902) is LO: at most 64 characters of the default repertoire.
  if (errorComment) elements.push([Tag.ErrorComment, textValue(loText(errorComment))]);
  elements.push([Tag.AffectedSopInstanceUid, uidValue(request.affectedSopInstanceUid)]);
  return encodeCommand(elements);
}

/** Elements in ascending tag order, preceded by the group length (0000,0000) the standard requires. */
function encodeCommand(elements: [number, Buffer][]): Buffer {
  const encoded = elements.map(([element, value]) => elementBytes(element, value));
  const length = encoded.reduce((sum, e) => sum + e.length, 0);
  const groupLength = Buffer.alloc(4);
  groupLength.writeUInt32LE(length, 0);
  return Buffer.concat([elementBytes(Tag.GroupLength, groupLength), ...encoded]);
}

function elementBytes(element: number, value: Buffer): Buffer {
  const header = Buffer.alloc(8);
  header.writeUInt16LE(0x0000, 0);
  header.writeUInt16LE(element, 2);
  header.writeUInt32LE(value.length, 4);
  return Buffer.concat([header, value]);
}

function usValue(value: number): Buffer {
  const out = Buffer.alloc(2);
  out.writeUInt16LE(value, 0);
  return out;
}

/** UI values are padded to even length with NUL; other text with a space (PS3.5 6.2). */
function uidValue(text: string): Buffer {
  return Buffer.from(text.length % 2 ? `${text}\0` : text, 'latin1');
}

function textValue(text: string): Buffer {
  return Buffer.from(text.length % 2 ? `${text} ` : text, 'latin1');
}

function loText(text: string): string {
  return text
    .replace(/[^\x20-\x5b\x5d-\x7e]/g, ' ')
    .slice(0, 64)
    .trim();
}
