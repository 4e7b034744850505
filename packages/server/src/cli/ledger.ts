/**
 * `scanflow ledger …`: the auditor's and the operator's tools for the tamper-evident log.
 *
 *   verify   replays an export (offline) or a running server's log (--url, through its API) and
 *            names the first entry or checkpoint that does not verify; exit 1 if any
 *   export   writes a log from this node's database as an export file (operator)
 *   proof    inclusion | consistency proofs, computed from an export or fetched from a server,
 *            and checked against the signed checkpoint
 *   follow   makes this node a witness of another node's log (its verifier key)
 *
 * Verification trusts only keys: pin the log's key with --log-key (from a source you trust, e.g.
 * the node's /.well-known/scanflow-ledger-keys), or the export header's keys are used and said so.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { Readable } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { finished } from 'node:stream/promises';
import { parseArgs } from 'node:util';
import {
  createLogVerifier,
  createMerkleTree,
  hashLeaf,
  openCheckpoint,
  parseVerifierKey,
  verifyConsistency,
  verifyInclusion,
  type NoteVerifier,
  type VerifyReport,
} from '@scanflow/ledger';
import { loadConfig } from '../config.ts';
import { createContext } from '../context.ts';
import { withSystem } from '../db/scope.ts';
import { readExport, type ParsedExport } from '../ledger/export-format.ts';
import { ledgerFor, SYSTEM_LOG } from '../services/ledger-service.ts';

const USAGE = `Usage:
  scanflow ledger verify (--export FILE | --url URL --token T) [--log-key VKEY] [--witness-key VKEY …]
                         [--quorum N] [--checkpoint FILE …] [--min-size N]
  scanflow ledger export [--log ORGANISATION_ID|system] [--out FILE]
  scanflow ledger proof inclusion --index I [--size N] (--export FILE | --url URL --token T) [--log-key VKEY]
  scanflow ledger proof consistency --from N [--to N] (--export FILE | --url URL --token T) [--log-key VKEY]
  scanflow ledger follow VERIFIER_KEY`;

class UsageError extends Error {}

type Values = Record<string, string | boolean | (string | boolean)[] | undefined>;

const OPTIONS = {
  export: { type: 'string' },
  url: { type: 'string' },
  token: { type: 'string' },
  'log-key': { type: 'string' },
  'witness-key': { type: 'string', multiple: true },
  quorum: { type: 'string' },
  checkpoint: { type: 'string', multiple: true },
  'min-size': { type: 'string' },
  log: { type: 'string' },
  out: { type: 'string' },
  index: { type: 'string' },
  size: { type: 'string' },
  from: { type: 'string' },
  to: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

const say = (line: string) => process.stdout.write(line + '\n');
const str = (v: Values, name: string): string | undefined => (typeof v[name] === 'string' ? v[name] : undefined);
const strs = (v: Values, name: string): string[] =>
  Array.isArray(v[name]) ? (v[name] as unknown[]).filter((x): x is string => typeof x === 'string') : [];

function int(v: Values, name: string): number | undefined {
  const raw = str(v, name);
  if (raw === undefined) return undefined;
  if (!/^\d+$/.test(raw) || !Number.isSafeInteger(Number(raw)))
    throw new UsageError(`--${name} must be a whole number`);
  return Number(raw);
}

export async function run(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, allowPositionals: true, options: OPTIONS });
  } catch (error) {
    process.stderr.write(`scanflow ledger: ${(error as Error).message}\n\n${USAGE}\n`);
    return 2;
  }
  const { values, positionals } = parsed;
  try {
    switch (positionals[0] ?? '') {
      case 'verify':
        return await verify(values);
      case 'export':
        return await exportLog(values);
      case 'proof':
        return await proof(positionals[1], values);
      case 'follow':
        return await follow(positionals[1]);
      default:
        if (values.help) {
          say(USAGE);
          return 0;
        }
        throw new UsageError(`unknown ledger command "${positionals[0] ?? ''}"`);
    }
  } catch (error) {
    if (error instanceof UsageError) {
      process.stderr.write(`scanflow ledger: ${error.message}\n\n${USAGE}\n`);
      return 2;
    }
    process.stderr.write(`scanflow ledger: ${(error as Error).message}\n`);
    return 1;
  }
}

/** The log to check: an export file, or a running server's export fetched through its API. */
async function openSource(values: Values): Promise<ParsedExport> {
  const file = str(values, 'export');
  const url = str(values, 'url');
  if (file && url) throw new UsageError('give --export or --url, not both');
  if (file) return readExport(createReadStream(file));
  if (!url) throw new UsageError('give --export FILE or --url URL --token T');
  const token = str(values, 'token');
  if (!token) throw new UsageError('--url needs --token (an administrator’s access token)');
  const response = await fetch(`${url.replace(/\/+$/, '')}/api/v1/ledger/export`, {
    headers: { authorization: `Bearer ${token}` },
  });
  if (!response.ok || !response.body) {
    throw new Error(`${url} answered ${response.status}: ${(await response.text()).slice(0, 300)}`);
  }
  return readExport(Readable.fromWeb(response.body as WebReadableStream));
}

function logKeys(values: Values, source: ParsedExport): NoteVerifier[] {
  const pinned = str(values, 'log-key');
  if (pinned) return [parseVerifierKey(pinned)];
  say(`note: trusting the log key named in the export; pin it with --log-key`);
  return source.header.logKeys.map((k) => parseVerifierKey(k));
}

async function verify(values: Values): Promise<number> {
  const source = await openSource(values);
  const witnessKeys = strs(values, 'witness-key').map((k) => parseVerifierKey(k));
  const extra: string[] = [];
  for (const file of strs(values, 'checkpoint')) {
    const chunks: Buffer[] = [];
    for await (const chunk of createReadStream(file)) chunks.push(chunk as Buffer);
    extra.push(Buffer.concat(chunks).toString('utf8'));
  }
  const quorum = int(values, 'quorum');
  const minTreeSize = int(values, 'min-size');
  const verifier = createLogVerifier({
    checkpoints: [...source.checkpoints, ...extra],
    logKeys: logKeys(values, source),
    origin: source.header.origin,
    witnessKeys,
    ...(quorum === undefined ? {} : { witnessQuorum: quorum }),
    ...(minTreeSize === undefined ? {} : { minTreeSize }),
  });
  for await (const bytes of source.entries) if (verifier.push(bytes) !== undefined) break;
  const report = verifier.finish();
  say(describe(report, source));
  return report.ok ? 0 : 1;
}

/** The report in words: the first failure, or what verified. */
export function describe(report: VerifyReport, source: Pick<ParsedExport, 'header' | 'checkpoints'>): string {
  const f = report.failure;
  if (f?.kind === 'entry') return `FAILED at entry ${f.index}: ${f.reason}`;
  if (f?.kind === 'checkpoint') {
    return `FAILED at checkpoint ${f.index}${f.size === undefined ? '' : ` (size ${f.size})`}: ${f.reason}`;
  }
  if (f?.kind === 'log') return `FAILED: ${f.reason}`;
  const latest = report.verified.at(-1);
  const witnesses = [...new Set(report.verified.flatMap((v) => v.cosignatures.map((c) => c.name)))];
  return [
    `OK: ${source.header.origin}: ${report.entriesRead} entries, ${report.verified.length} checkpoint(s) verified`,
    latest ? `latest verified checkpoint: size ${latest.checkpoint.size}` : 'no checkpoint yet',
    witnesses.length ? `cosigned by ${witnesses.join(', ')}` : 'no witness cosignatures checked',
    `${report.uncheckpointed} entries after the latest checkpoint`,
  ].join('\n');
}

async function exportLog(values: Values): Promise<number> {
  const ctx = await createContext(loadConfig());
  try {
    const ledger = ledgerFor(ctx);
    await ledger.sequenceNow();
    const logId = str(values, 'log') ?? SYSTEM_LOG;
    const out = str(values, 'out');
    const stream = out ? createWriteStream(out) : process.stdout;
    const logKey = (await ledger.logSigner(logId)).verifierKey;
    await withSystem(ctx.db, (tx) =>
      ledger.writeExport(tx, logId, logKey, async (chunk) => {
        if (!stream.write(chunk)) await new Promise<void>((resolve) => stream.once('drain', () => resolve()));
      }),
    );
    if (out) {
      stream.end();
      await finished(stream);
      say(`wrote ${out}`);
    }
    return 0;
  } finally {
    await ctx.db.close();
  }
}

async function follow(verifierKey: string | undefined): Promise<number> {
  if (!verifierKey) throw new UsageError('give the verifier key of the log to witness');
  const ctx = await createContext(loadConfig());
  try {
    const origin = await ledgerFor(ctx).followLog(verifierKey);
    say(`this node now witnesses ${origin}`);
    return 0;
  } finally {
    await ctx.db.close();
  }
}

interface FetchedProof {
  checkpoints: string[];
  proof: string[];
  leafData?: string;
}

async function proof(kind: string | undefined, values: Values): Promise<number> {
  if (kind !== 'inclusion' && kind !== 'consistency') throw new UsageError('proof inclusion | proof consistency');
  const url = str(values, 'url');
  let result: FetchedProof & { index: number; from: number; size: number };
  let keys: NoteVerifier[];
  if (url) {
    const token = str(values, 'token');
    if (!token) throw new UsageError('--url needs --token');
    const query =
      kind === 'inclusion'
        ? { index: str(values, 'index'), size: str(values, 'size') }
        : { from: str(values, 'from'), to: str(values, 'to') };
    const qs = new URLSearchParams(Object.entries(query).filter((e): e is [string, string] => e[1] !== undefined));
    const response = await fetch(`${url.replace(/\/+$/, '')}/api/v1/ledger/proofs/${kind}?${qs}`, {
      headers: { authorization: `Bearer ${token}` },
    });
    const body = (await response.json()) as Record<string, unknown>;
    if (!response.ok) throw new Error(`${url} answered ${response.status}: ${JSON.stringify(body).slice(0, 300)}`);
    const pinned = str(values, 'log-key');
    if (!pinned) throw new UsageError('with --url, give the log key to check the checkpoint with (--log-key)');
    keys = [parseVerifierKey(pinned)];
    const cp = (name: string) => body[name] as { note: string; size: number };
    if (kind === 'inclusion') {
      const entry = body.entry as { index: number; data: string };
      result = {
        index: entry.index,
        from: 0,
        size: cp('checkpoint').size,
        checkpoints: [cp('checkpoint').note],
        proof: body.proof as string[],
        leafData: entry.data,
      };
    } else {
      result = {
        index: 0,
        from: cp('from').size,
        size: cp('to').size,
        checkpoints: [cp('from').note, cp('to').note],
        proof: body.proof as string[],
      };
    }
  } else {
    const source = await openSource(values);
    keys = logKeys(values, source);
    const leaves: Uint8Array[] = [];
    for await (const bytes of source.entries) leaves.push(bytes);
    const tree = createMerkleTree(leaves.map((b) => hashLeaf(b)));
    const sizes = new Map(source.checkpoints.map((note) => [Number(note.split('\n')[1]), note]));
    const latest = Math.max(...sizes.keys());
    const noteOf = (size: number) => {
      const note = sizes.get(size);
      if (!note) throw new UsageError(`the export has no checkpoint of size ${size}`);
      return note;
    };
    const b64 = (h: Uint8Array) => Buffer.from(h).toString('base64');
    if (kind === 'inclusion') {
      const index = int(values, 'index');
      if (index === undefined) throw new UsageError('--index is required');
      const size = int(values, 'size') ?? latest;
      if (index >= size || index >= leaves.length)
        throw new UsageError(`entry ${index} is not in the tree of size ${size}`);
      result = {
        index,
        from: 0,
        size,
        checkpoints: [noteOf(size)],
        proof: tree.inclusionProof(index, size).map(b64),
        leafData: Buffer.from(leaves[index]!).toString('base64'),
      };
    } else {
      const from = int(values, 'from');
      if (from === undefined) throw new UsageError('--from is required');
      const size = int(values, 'to') ?? latest;
      if (from > size) throw new UsageError('--from must not be larger than --to');
      result = {
        index: 0,
        from,
        size,
        checkpoints: [noteOf(from), noteOf(size)],
        proof: tree.consistencyProof(from, size).map(b64),
      };
    }
  }
  // Check what we print: the checkpoints' signatures, then the proof against their roots.
  const roots = result.checkpoints.map((note) => {
    const opened = openCheckpoint(note, keys);
    if (!opened.ok) throw new Error(`checkpoint does not verify: ${opened.reason}`);
    return opened.checkpoint.rootHash;
  });
  const hashes = result.proof.map((h) => new Uint8Array(Buffer.from(h, 'base64')));
  const check =
    kind === 'inclusion'
      ? verifyInclusion(
          result.index,
          result.size,
          hashLeaf(Buffer.from(result.leafData ?? '', 'base64')),
          hashes,
          roots[0]!,
        )
      : verifyConsistency(result.from, result.size, roots[0]!, roots.at(-1)!, hashes);
  say(
    JSON.stringify(
      {
        kind,
        ...(kind === 'inclusion' ? { index: result.index } : { from: result.from }),
        size: result.size,
        proof: result.proof,
        verified: check.ok,
      },
      null,
      2,
    ),
  );
  if (!check.ok) say(`FAILED: ${check.reason}`);
  return check.ok ? 0 : 1;
}
