import { describe, expect, it } from 'vitest';
import { canonicalBytes } from './canonical.ts';
import type { LedgerEntry } from './canonical.ts';
import { cosignCheckpoint, createCosigner, createNoteSigner, parseVerifierKey, signCheckpoint } from './checkpoint.ts';
import type { NoteSigner } from './checkpoint.ts';
import { createMerkleTree, hashLeaf } from './merkle.ts';
import { createLogVerifier, verifyLog, verifyLogAsync } from './verify.ts';

const ORIGIN = 'scanflow.example/org_01';
const logSigner = createNoteSigner(ORIGIN, new Uint8Array(32).fill(1));
const stolenOrOther = createNoteSigner(ORIGIN, new Uint8Array(32).fill(2));
const witness = createCosigner('witness.example/w1', new Uint8Array(32).fill(3), () => 1_800_000_000);
const logKeys = [parseVerifierKey(logSigner.verifierKey)];
const witnessKeys = [parseVerifierKey(witness.verifierKey)];

function entry(seq: number, patch: Partial<LedgerEntry> = {}): LedgerEntry {
  return {
    seq,
    orgId: 'org_01',
    at: new Date(Date.UTC(2026, 10, 23, 0, 0, seq)).toISOString(),
    actorUserId: `usr_${seq % 5}`,
    actorRole: 'radiologist',
    action: seq % 3 === 0 ? 'scan.view' : 'report.sign',
    resourceType: 'scan',
    resourceId: `scn_${seq}`,
    outcome: 'success',
    ...patch,
  };
}

function checkpointsFor(
  bytes: readonly Uint8Array[],
  sizes: readonly number[],
  signer: NoteSigner = logSigner,
): string[] {
  const tree = createMerkleTree(bytes.map(hashLeaf));
  return sizes.map((size) =>
    cosignCheckpoint(signCheckpoint({ origin: ORIGIN, size, rootHash: tree.root(size) }, signer), witness),
  );
}

const N = 50;
const SIZES = [10, 20, 35, 50];
const entries = Array.from({ length: N }, (_, i) => entry(i));
const bytes = entries.map(canonicalBytes);
const checkpoints = checkpointsFor(bytes, SIZES);
const base = { checkpoints, logKeys, origin: ORIGIN, witnessKeys };

function withBytes(list: Uint8Array[]): ReturnType<typeof verifyLog> {
  return verifyLog({ ...base, entries: list });
}

describe('an untampered log', () => {
  it('verifies from bytes and from entries, with checkpoints in any stored order', () => {
    const r = withBytes(bytes);
    expect(r.ok).toBe(true);
    expect(r.entriesRead).toBe(N);
    expect(r.verified.map((v) => v.checkpoint.size)).toEqual(SIZES);
    expect(r.verified[0]?.cosignatures).toEqual([
      expect.objectContaining({ name: 'witness.example/w1', timestamp: 1_800_000_000 }),
    ]);
    expect(r.uncheckpointed).toBe(0);
    expect(verifyLog({ ...base, entries, checkpoints: [...checkpoints].reverse() }).ok).toBe(true);
    expect(verifyLog({ ...base, entries: bytes, witnessQuorum: 1 }).ok).toBe(true);
    expect(verifyLog({ ...base, entries: bytes, witnessQuorum: 2 }).failure).toMatchObject({
      kind: 'checkpoint',
      index: 0,
    });
  });

  it('reports entries after the last checkpoint as not yet covered', () => {
    const more = [...bytes, canonicalBytes(entry(N)), canonicalBytes(entry(N + 1))];
    expect(withBytes(more)).toMatchObject({ ok: true, uncheckpointed: 2 });
  });

  it('an empty log with a size-0 checkpoint verifies', () => {
    const cp = checkpointsFor([], [0]);
    expect(verifyLog({ ...base, entries: [], checkpoints: cp }).ok).toBe(true);
  });
});

describe('attacks, each named at the first point that does not verify', () => {
  it('one changed byte in an old entry (still valid JSON): the first later checkpoint fails', () => {
    const tampered = bytes.slice();
    const b = Uint8Array.from(tampered[14]!);
    const at = Buffer.from(b).indexOf('scn_14') + 4;
    b[at] = '7'.charCodeAt(0); // scn_14 -> scn_74
    tampered[14] = b;
    expect(withBytes(tampered).failure).toEqual({
      kind: 'checkpoint',
      index: 1,
      size: 20,
      suspectFrom: 10,
      reason: expect.stringContaining('[10, 20)') as unknown,
    });
  });

  it('one changed byte that breaks the canonical form: the entry itself is named', () => {
    const tampered = bytes.slice();
    const b = Uint8Array.from(tampered[3]!);
    b[0] = ' '.charCodeAt(0);
    tampered[3] = b;
    expect(withBytes(tampered).failure).toMatchObject({ kind: 'entry', index: 3 });
  });

  it('a changed entry object (role edited in the database): the first later checkpoint fails', () => {
    const tampered = entries.slice();
    tampered[36] = entry(36, { actorRole: 'admin' });
    expect(verifyLog({ ...base, entries: tampered }).failure).toMatchObject({
      kind: 'checkpoint',
      index: 3,
      size: 50,
      suspectFrom: 35,
    });
  });

  it('a deleted entry: named by its missing seq', () => {
    const tampered = bytes.filter((_, i) => i !== 22);
    expect(withBytes(tampered).failure).toEqual({ kind: 'entry', index: 22, reason: 'expected seq 22, found seq 23' });
  });

  it('a deleted entry with the rest renumbered: the first later checkpoint fails', () => {
    const tampered = entries.filter((_, i) => i !== 22).map((e, i) => ({ ...e, seq: i }));
    expect(verifyLog({ ...base, entries: tampered }).failure).toMatchObject({
      kind: 'checkpoint',
      size: 35,
      suspectFrom: 20,
    });
  });

  it('two swapped entries: named by seq', () => {
    const tampered = bytes.slice();
    [tampered[5], tampered[6]] = [tampered[6]!, tampered[5]!];
    expect(withBytes(tampered).failure).toEqual({ kind: 'entry', index: 5, reason: 'expected seq 5, found seq 6' });
  });

  it('two swapped entries with their seq swapped back: the checkpoint fails', () => {
    const tampered = entries.slice();
    [tampered[5], tampered[6]] = [
      { ...entries[6]!, seq: 5 },
      { ...entries[5]!, seq: 6 },
    ];
    expect(verifyLog({ ...base, entries: tampered }).failure).toMatchObject({
      kind: 'checkpoint',
      size: 10,
      suspectFrom: 0,
    });
  });

  it('a replaced checkpoint signed by another key', () => {
    const tree = createMerkleTree(bytes.map(hashLeaf));
    const forged = checkpoints.slice();
    forged[2] = signCheckpoint({ origin: ORIGIN, size: 35, rootHash: tree.root(35) }, stolenOrOther);
    expect(verifyLog({ ...base, entries: bytes, checkpoints: forged }).failure).toEqual({
      kind: 'checkpoint',
      index: 2,
      reason: 'no signature by a known key',
    });
  });

  it('a checkpoint whose root was edited under the original signature', () => {
    const forged = checkpoints.slice();
    const lines = forged[1]!.split('\n');
    lines[2] = Buffer.alloc(32, 9).toString('base64');
    forged[1] = lines.join('\n');
    expect(verifyLog({ ...base, entries: bytes, checkpoints: forged }).failure).toMatchObject({
      kind: 'checkpoint',
      index: 1,
      reason: expect.stringContaining('invalid signature') as unknown,
    });
  });

  it('a truncated log', () => {
    expect(withBytes(bytes.slice(0, 45)).failure).toEqual({
      kind: 'checkpoint',
      index: 3,
      size: 50,
      reason: 'log truncated: checkpoint of size 50 but only 45 entries',
    });
  });

  it('a truncated log with its checkpoints removed too: caught against a witness-held size', () => {
    const r = verifyLog({ ...base, entries: bytes.slice(0, 35), checkpoints: checkpoints.slice(0, 3) });
    expect(r.ok).toBe(true); // nothing inside the export contradicts it…
    const w = verifyLog({
      ...base,
      entries: bytes.slice(0, 35),
      checkpoints: checkpoints.slice(0, 3),
      minTreeSize: 50,
    });
    expect(w.failure).toEqual({ kind: 'log', reason: 'log truncated: 35 entries, at least 50 expected' });
  });

  it('a rewritten tail re-signed with the stolen log key: witnesses’ absence gives it away', () => {
    const rewritten = [
      ...bytes.slice(0, 35),
      ...entries.slice(35).map((e) => canonicalBytes({ ...e, outcome: 'denied' })),
    ];
    const tree = createMerkleTree(rewritten.map(hashLeaf));
    const resigned = [
      ...checkpoints.slice(0, 3),
      signCheckpoint({ origin: ORIGIN, size: 50, rootHash: tree.root(50) }, logSigner),
    ];
    // Signature checks alone cannot see it: the key is genuine.
    expect(verifyLog({ ...base, entries: rewritten, checkpoints: resigned }).ok).toBe(true);
    // Requiring one witness cosignature per checkpoint does.
    expect(verifyLog({ ...base, entries: rewritten, checkpoints: resigned, witnessQuorum: 1 }).failure).toEqual({
      kind: 'checkpoint',
      index: 3,
      size: 50,
      reason: '0 witness cosignature(s), 1 required',
    });
    // And a cosigned checkpoint kept by anyone contradicts the rewritten entries.
    expect(verifyLog({ ...base, entries: rewritten, checkpoints }).failure).toMatchObject({
      kind: 'checkpoint',
      size: 50,
      suspectFrom: 35,
    });
  });

  it('two checkpoints of one size with different roots (split view)', () => {
    const other = createMerkleTree(entries.map((e) => hashLeaf(canonicalBytes({ ...e, outcome: 'x' }))));
    const split = [...checkpoints, signCheckpoint({ origin: ORIGIN, size: 20, rootHash: other.root(20) }, logSigner)];
    expect(verifyLog({ ...base, entries: bytes, checkpoints: split }).failure).toEqual({
      kind: 'checkpoint',
      index: 4,
      size: 20,
      reason: 'split view: checkpoints 1 and 4 sign different roots for size 20',
    });
  });

  it('reports the earliest problem in log order', () => {
    const tampered = bytes.slice();
    tampered[40] = canonicalBytes(entry(40, { outcome: 'denied' }));
    const forged = checkpoints.slice();
    forged[1] = signCheckpoint({ origin: ORIGIN, size: 20, rootHash: new Uint8Array(32) }, stolenOrOther);
    expect(verifyLog({ ...base, entries: tampered, checkpoints: forged }).failure).toMatchObject({
      kind: 'checkpoint',
      index: 1,
    });
  });

  it('a checkpoint for another origin', () => {
    const other = createNoteSigner('elsewhere.example/log', new Uint8Array(32).fill(1));
    const foreign = [signCheckpoint({ origin: 'elsewhere.example/log', size: 0, rootHash: new Uint8Array(32) }, other)];
    const r = verifyLog({
      ...base,
      entries: bytes,
      checkpoints: foreign,
      logKeys: [parseVerifierKey(other.verifierKey)],
    });
    expect(r.failure).toMatchObject({
      kind: 'checkpoint',
      index: 0,
      reason: expect.stringContaining('origin') as unknown,
    });
  });
});

describe('incremental and asynchronous replay', () => {
  it('push reports the failure as soon as it is known and then sticks to it', () => {
    const v = createLogVerifier(base);
    for (let i = 0; i < 10; i++) expect(v.push(bytes[i]!)).toBeUndefined();
    const failure = v.push(bytes[11]!); // entry 10 deleted
    expect(failure).toEqual({ kind: 'entry', index: 10, reason: 'expected seq 10, found seq 11' });
    expect(v.push(bytes[10]!)).toBe(failure);
    expect(v.finish()).toMatchObject({ ok: false, failure, entriesRead: 10, verified: [{ index: 0 }] });
  });

  it('verifies from an async source', async () => {
    async function* stream(): AsyncGenerator<Uint8Array> {
      for (const b of bytes) {
        await Promise.resolve();
        yield b;
      }
    }
    expect((await verifyLogAsync({ ...base, entries: stream() })).ok).toBe(true);
    const tampered = bytes.slice(0, 49);
    expect((await verifyLogAsync({ ...base, entries: tampered })).failure).toMatchObject({
      kind: 'checkpoint',
      size: 50,
    });
  });
});
