import { describe, expect, it } from 'vitest';
import { createCosigner, createNoteSigner, openCheckpoint, parseVerifierKey, signCheckpoint } from './checkpoint.ts';
import type { Checkpoint } from './checkpoint.ts';
import { createMerkleTree, hashLeaf } from './merkle.ts';
import { addCheckpoint, decideCosign, formatAddCheckpointRequest, parseAddCheckpointRequest } from './witness.ts';
import type { WitnessState } from './witness.ts';

const ORIGIN = 'node-a.example/org_a';
const tree = createMerkleTree(Array.from({ length: 40 }, (_, i) => hashLeaf(new TextEncoder().encode(`e${i}`))));
const forked = createMerkleTree(
  Array.from({ length: 40 }, (_, i) => hashLeaf(new TextEncoder().encode(i < 20 ? `e${i}` : `x${i}`))),
);
const cp = (size: number, t = tree): Checkpoint => ({ origin: ORIGIN, size, rootHash: t.root(size) });
const state = (size: number, t = tree): WitnessState => ({ origin: ORIGIN, size, rootHash: t.root(size) });

describe('decideCosign', () => {
  it('cosigns a consistent extension and returns the new state', () => {
    const d = decideCosign(state(10), cp(25), tree.consistencyProof(10, 25));
    expect(d).toEqual({ decision: 'cosign', state: state(25) });
  });

  it('trusts the first checkpoint it sees (old size 0, empty proof)', () => {
    expect(decideCosign(undefined, cp(7), [])).toEqual({ decision: 'cosign', state: state(7) });
    expect(decideCosign(undefined, cp(7), tree.consistencyProof(1, 7))).toMatchObject({
      reason: 'bad-proof',
      httpStatus: 422,
    });
  });

  it('re-cosigns the same checkpoint', () => {
    expect(decideCosign(state(10), cp(10), [])).toMatchObject({ decision: 'cosign' });
  });

  it('flags a smaller tree as a split view', () => {
    expect(decideCosign(state(30), cp(20), [], 20)).toMatchObject({
      decision: 'refuse',
      reason: 'split-view',
      splitView: true,
      httpStatus: 409,
      currentSize: 30,
    });
  });

  it('flags the same size with a different root as a split view', () => {
    expect(decideCosign(state(30), cp(30, forked), [])).toMatchObject({ reason: 'split-view', splitView: true });
  });

  it('refuses a fork that the proof cannot bridge, without calling it a split view', () => {
    const d = decideCosign(state(25), cp(40, forked), forked.consistencyProof(25, 40));
    expect(d).toMatchObject({ decision: 'refuse', reason: 'bad-proof', splitView: false, httpStatus: 422 });
  });

  it('answers a stale old size with a conflict and its current size', () => {
    expect(decideCosign(state(25), cp(40), tree.consistencyProof(10, 40), 10)).toMatchObject({
      reason: 'conflict',
      httpStatus: 409,
      currentSize: 25,
      splitView: false,
    });
  });

  it('rejects bad requests', () => {
    expect(decideCosign(state(5), cp(10), [], 11)).toMatchObject({ reason: 'bad-request', httpStatus: 400 });
    expect(
      decideCosign(
        state(5),
        cp(10),
        Array.from({ length: 64 }, () => new Uint8Array(32)),
      ),
    ).toMatchObject({
      reason: 'bad-request',
    });
    expect(decideCosign({ ...state(5), origin: 'other' }, cp(10), [])).toMatchObject({ reason: 'unknown-origin' });
  });
});

describe('addCheckpoint across three nodes', () => {
  const log = createNoteSigner(ORIGIN, new Uint8Array(32).fill(7));
  const stolen = log; // an attacker with the log's key signs whatever they like
  const b = createCosigner('node-b.example/witness', new Uint8Array(32).fill(8), () => 1_800_000_000);
  const c = createCosigner('node-c.example/witness', new Uint8Array(32).fill(9), () => 1_800_000_001);
  const logKeys = [parseVerifierKey(log.verifierKey)];

  it('each witness cosigns in turn; the result carries all signatures', () => {
    const note = signCheckpoint(cp(20), log);
    const rb = addCheckpoint({ note, oldSize: 0, proof: [], origin: ORIGIN, logKeys, state: undefined, cosigner: b });
    if (rb.decision !== 'cosign') throw new Error(rb.detail);
    expect(rb.signatureLines).toMatch(/^\u2014 node-b\.example\/witness [A-Za-z0-9+/=]+\n$/u);
    const rc = addCheckpoint({
      note: rb.cosigned,
      oldSize: 0,
      proof: [],
      origin: ORIGIN,
      logKeys,
      state: undefined,
      cosigner: c,
    });
    if (rc.decision !== 'cosign') throw new Error(rc.detail);
    const opened = openCheckpoint(rc.cosigned, logKeys, [
      parseVerifierKey(b.verifierKey),
      parseVerifierKey(c.verifierKey),
    ]);
    expect(opened.ok && opened.cosignatures.map((s) => [s.name, s.timestamp])).toEqual([
      ['node-b.example/witness', 1_800_000_000],
      ['node-c.example/witness', 1_800_000_001],
    ]);
  });

  it('refuses a rewritten tail re-signed with a stolen key, as a split view', () => {
    const after = state(40);
    // The attacker rewrites entries 20.. and re-signs size 40: same size, different root.
    const note = signCheckpoint(cp(40, forked), stolen);
    const r = addCheckpoint({ note, oldSize: 40, proof: [], origin: ORIGIN, logKeys, state: after, cosigner: b });
    expect(r).toMatchObject({ decision: 'refuse', reason: 'split-view', splitView: true });
    // Or a rollback to before the rewrite.
    const back = addCheckpoint({
      note: signCheckpoint(cp(30), stolen),
      oldSize: 40,
      proof: [],
      origin: ORIGIN,
      logKeys,
      state: after,
      cosigner: b,
    });
    expect(back).toMatchObject({ reason: 'split-view' });
  });

  it('refuses unknown logs and bad signatures with the tlog-witness statuses', () => {
    const other = createNoteSigner('elsewhere.example', new Uint8Array(32).fill(1));
    const foreign = signCheckpoint({ ...cp(3), origin: 'elsewhere.example' }, other);
    expect(
      addCheckpoint({ note: foreign, oldSize: 0, proof: [], origin: ORIGIN, logKeys, state: undefined, cosigner: b }),
    ).toMatchObject({
      reason: 'unknown-origin',
      httpStatus: 404,
    });
    const forged = signCheckpoint(cp(3), createNoteSigner(ORIGIN, new Uint8Array(32).fill(2)));
    expect(
      addCheckpoint({ note: forged, oldSize: 0, proof: [], origin: ORIGIN, logKeys, state: undefined, cosigner: b }),
    ).toMatchObject({
      reason: 'bad-signature',
      httpStatus: 403,
    });
    expect(
      addCheckpoint({ note: 'garbage', oldSize: 0, proof: [], origin: ORIGIN, logKeys, state: undefined, cosigner: b }),
    ).toMatchObject({
      reason: 'bad-request',
    });
  });
});

describe('add-checkpoint request body', () => {
  it('round-trips', () => {
    const note = signCheckpoint(cp(25), createNoteSigner(ORIGIN, new Uint8Array(32).fill(7)));
    const proof = tree.consistencyProof(10, 25);
    const body = formatAddCheckpointRequest(10, proof, note);
    expect(body.startsWith('old 10\n')).toBe(true);
    expect(parseAddCheckpointRequest(body)).toEqual({ ok: true, oldSize: 10, proof, note });
  });

  it('rejects malformed bodies', () => {
    for (const body of ['old 01\n\nx', 'old 1\nnot-base64\n\nx', 'new 1\n\nx', 'old 1\n']) {
      expect(parseAddCheckpointRequest(body).ok, body).toBe(false);
    }
  });
});
