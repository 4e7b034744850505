/**
 * The export an auditor takes away: JSON Lines (one JSON object per line, UTF-8), in this order,
 * so a verifier can stream a log of any length with the checkpoints already in hand:
 *
 *   {"type":"header","format":"scanflow-ledger-export/v1","logId":…,"origin":…,
 *    "logKeys":[<signed-note verifier key>…],"witnessKeys":[…],"exportedAt":…}
 *   {"type":"checkpoint","note":<signed checkpoint note, with its witnesses' cosignature lines>}  …
 *   {"type":"entry","data":<base64 of the entry's canonical bytes>}  … in leaf order
 *
 * The keys in the header are a convenience: an auditor should pin the log's key (and the
 * witnesses') from a source they trust, e.g. `/.well-known/scanflow-ledger-keys`, with
 * `scanflow ledger verify --log-key`.
 */
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';

export const EXPORT_FORMAT = 'scanflow-ledger-export/v1';

export interface ExportHeader {
  type: 'header';
  format: typeof EXPORT_FORMAT;
  logId: string;
  origin: string;
  logKeys: string[];
  witnessKeys: string[];
  exportedAt: string;
}

export const headerLine = (header: Omit<ExportHeader, 'type' | 'format'>): string =>
  JSON.stringify({ type: 'header', format: EXPORT_FORMAT, ...header }) + '\n';
export const checkpointLine = (note: string): string => JSON.stringify({ type: 'checkpoint', note }) + '\n';
export const entryLine = (bytes: Uint8Array): string =>
  `{"type":"entry","data":"${Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64')}"}\n`;

export class ExportFormatError extends Error {
  constructor(line: number, why: string) {
    super(`export line ${line}: ${why}`);
  }
}

export interface ParsedExport {
  header: ExportHeader;
  checkpoints: string[];
  /** The entries, streamed; iterate once. */
  entries: AsyncIterable<Uint8Array>;
}

/** Reads an export: header and checkpoints first, then entries as they are read. */
export async function readExport(input: Readable): Promise<ParsedExport> {
  const lines = createInterface({ input, crlfDelay: Infinity })[Symbol.asyncIterator]();
  let lineNo = 0;
  const parse = (text: string): Record<string, unknown> => {
    try {
      const value = JSON.parse(text) as unknown;
      if (typeof value === 'object' && value !== null && !Array.isArray(value)) return value as Record<string, unknown>;
    } catch {
      // fall through to the error below
    }
    throw new ExportFormatError(lineNo, 'not a JSON object');
  };
  const first = await lines.next();
  lineNo = 1;
  if (first.done) throw new ExportFormatError(1, 'the export is empty');
  const header = parse(first.value);
  if (header.type !== 'header' || header.format !== EXPORT_FORMAT) {
    throw new ExportFormatError(1, `expected a ${EXPORT_FORMAT} header`);
  }
  const strings = (v: unknown) => Array.isArray(v) && v.every((s) => typeof s === 'string');
  if (typeof header.logId !== 'string' || typeof header.origin !== 'string' || !strings(header.logKeys)) {
    throw new ExportFormatError(1, 'the header needs logId, origin and logKeys');
  }
  const checkpoints: string[] = [];
  let pending: Record<string, unknown> | undefined;
  for (;;) {
    const next = await lines.next();
    if (next.done) break;
    lineNo += 1;
    if (next.value === '') continue;
    const item = parse(next.value);
    if (item.type !== 'checkpoint') {
      pending = item;
      break;
    }
    if (typeof item.note !== 'string') throw new ExportFormatError(lineNo, 'a checkpoint needs a note');
    checkpoints.push(item.note);
  }
  const entryBytes = (item: Record<string, unknown>): Uint8Array => {
    if (item.type !== 'entry' || typeof item.data !== 'string') {
      throw new ExportFormatError(lineNo, 'expected an entry (checkpoints come before entries)');
    }
    return new Uint8Array(Buffer.from(item.data, 'base64'));
  };
  async function* entries(): AsyncIterable<Uint8Array> {
    if (pending) yield entryBytes(pending);
    for (;;) {
      const next = await lines.next();
      if (next.done) return;
      lineNo += 1;
      if (next.value !== '') yield entryBytes(parse(next.value));
    }
  }
  return {
    header: {
      ...(header as unknown as ExportHeader),
      witnessKeys: strings(header.witnessKeys) ? header.witnessKeys : [],
    },
    checkpoints,
    entries: entries(),
  };
}
