import { describe, expect, it } from 'vitest';
import { echoResponse, parseCommand, Status, storeResponse } from './dimse.ts';
import { dataPdus, parseDataPdu, PduReader, PduType, ProtocolError } from './pdu.ts';

describe('PduReader', () => {
  it('cuts a stream into PDUs however it is chunked', () => {
    const message = Buffer.from(Array.from({ length: 3000 }, (_, i) => i % 251));
    const pdus = dataPdus(3, false, message, 1000);
    expect(pdus).toHaveLength(4);
    const stream = Buffer.concat(pdus);
    for (const chunkSize of [1, 7, 999, stream.length]) {
      const reader = new PduReader(() => 1_000_000);
      const out = [];
      for (let offset = 0; offset < stream.length; offset += chunkSize) {
        out.push(...reader.push(stream.subarray(offset, offset + chunkSize)));
      }
      expect(out.map((p) => p.type)).toEqual([PduType.Data, PduType.Data, PduType.Data, PduType.Data]);
      const pdvs = out.flatMap((p) => parseDataPdu(p.body));
      expect(pdvs.map((p) => p.last)).toEqual([false, false, false, true]);
      expect(pdvs.every((p) => p.contextId === 3 && !p.command)).toBe(true);
      expect(Buffer.concat(pdvs.map((p) => p.data))).toEqual(message);
    }
  });

  it('refuses a PDU larger than the limit before reading it, and unknown PDU types', () => {
    const reader = new PduReader(() => 1024);
    expect(() => reader.push(Buffer.from([0x04, 0, 0, 0, 0x04, 0x01]))).toThrow(ProtocolError);
    expect(() => new PduReader(() => 1024).push(Buffer.from([0x08, 0, 0, 0, 0, 0]))).toThrow(ProtocolError);
  });

  it('refuses PDV items whose length runs past their PDU', () => {
    const body = Buffer.from([0, 0, 0, 50, 1, 3, 9, 9]);
    expect(() => parseDataPdu(body)).toThrow(ProtocolError);
    expect(() => parseDataPdu(Buffer.from([0, 0, 0, 1, 1]))).toThrow(ProtocolError);
  });
});

describe('DIMSE command sets', () => {
  it('writes responses that read back, with group length and a bounded error comment', () => {
    const request = {
      commandField: 0x0001,
      messageId: 42,
      affectedSopClassUid: '1.2.840.10008.5.1.4.1.1.7',
      affectedSopInstanceUid: '1.2.3.4.5',
      hasDataSet: true,
    };
    const rsp = storeResponse(request, Status.CannotUnderstand, `bad\\file ${'x'.repeat(100)}\u0001`);
    expect(rsp.readUInt32LE(8)).toBe(rsp.length - 12);
    expect(parseCommand(rsp)).toEqual({
      commandField: 0x8001,
      messageId: 0,
      affectedSopClassUid: request.affectedSopClassUid,
      affectedSopInstanceUid: request.affectedSopInstanceUid,
      hasDataSet: false,
    });
    const comment = rsp.indexOf(Buffer.from([0x00, 0x00, 0x02, 0x09]));
    const length = rsp.readUInt32LE(comment + 4);
    expect(length).toBeLessThanOrEqual(64);
    const text = rsp.toString('latin1', comment + 8, comment + 8 + length);
    expect(text.includes('\\') || text.includes('\u0001')).toBe(false);
    expect(parseCommand(echoResponse({ ...request, commandField: 0x0030 })).commandField).toBe(0x8030);
  });

  it('refuses elements outside group 0000 and lengths past the end', () => {
    const element = Buffer.from([0x08, 0, 0x16, 0, 2, 0, 0, 0, 0x41, 0x41]);
    expect(() => parseCommand(element)).toThrow(ProtocolError);
    expect(() => parseCommand(Buffer.from([0, 0, 0x00, 0x01, 9, 0, 0, 0, 1]))).toThrow(ProtocolError);
  });
});
