/**
 * Witnesses on loopback (SPEC L2): node A's organisation log asks nodes B and C, real Scanflow
 * apps listening on 127.0.0.1, to cosign each checkpoint (c2sp.org/tlog-witness). Then an
 * attacker who holds A's database and its log key rewrites the tail and re-signs it: the
 * witnesses refuse and raise an alert, and `ledger verify` with the witnesses' keys fails.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  canonicalBytes,
  createMerkleTree,
  formatAddCheckpointRequest,
  hashLeaf,
  openCheckpoint,
  parseCanonical,
  parseVerifierKey,
  signCheckpoint,
} from '@scanflow/ledger';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withSystem } from '../src/db/scope.ts';
import { ledgerFor } from '../src/services/ledger-service.ts';
import { bearer, createUser, startTestApp, uniqueSlug, type TestApp, type TestUser } from './harness.ts';
import { exportLog, runLedgerCli } from './ledger-helpers.ts';

let a: TestApp;
let b: TestApp;
let c: TestApp;
const witnessUrl = new Map<TestApp, string>();
const witnessKey = new Map<TestApp, string>();
let work: string;

// Names unique to this run: on a shared PostgreSQL database, an earlier run's keys are sealed
// under that run's master key.
const run = randomUUID().slice(0, 8);
const witnessName = (node: string) => `${node}-${run}.test/witness`;

async function startWitness(name: string): Promise<TestApp> {
  const node = await startTestApp({ LEDGER_ORIGIN: `${name}-${run}.test`, LEDGER_WITNESS_NAME: witnessName(name) });
  await node.app.listen({ port: 0, host: '127.0.0.1' });
  const address = node.app.server.address();
  if (!address || typeof address === 'string') throw new Error('no port');
  witnessUrl.set(node, `http://127.0.0.1:${address.port}/api/v1/ledger/witness`);
  witnessKey.set(node, (await node.app.inject({ url: '/.well-known/scanflow-ledger-keys' })).json().witness);
  return node;
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'scanflow-witness-'));
  b = await startWitness('node-b');
  c = await startWitness('node-c');
  a = await startTestApp({
    LEDGER_ORIGIN: `node-a-${run}.test`,
    LEDGER_WITNESSES: [b, c].map((w) => `${witnessUrl.get(w)} ${witnessKey.get(w)}`).join(','),
  });
});
afterAll(async () => {
  await Promise.all([a?.close(), b?.close(), c?.close()]);
});

const checkpoint = (admin: TestUser) =>
  a.app.inject({ method: 'POST', url: '/api/v1/ledger/checkpoints', headers: bearer(admin) });
const activity = async (admin: TestUser, n: number) => {
  for (let i = 0; i < n; i++) await a.app.inject({ url: '/api/v1/ledger/checkpoints', headers: bearer(admin) });
};

async function followedOrg(): Promise<{ admin: TestUser; logKey: string; origin: string }> {
  const admin = await createUser(a, uniqueSlug('witnessed'), 'admin');
  const logKey = (await a.app.inject({ url: `/.well-known/scanflow-ledger-keys/${admin.orgId}` })).json().verifierKey;
  for (const witness of [b, c]) await ledgerFor(witness.ctx).followLog(logKey);
  return { admin, logKey, origin: `node-a-${run}.test/${admin.orgId}` };
}

async function verifyCli(admin: TestUser, args: string[]): Promise<{ code: number; output: string }> {
  const file = join(work, `${admin.orgId}-${Date.now()}.jsonl`);
  const logKey = await exportLog(a, admin.orgId, file);
  return runLedgerCli(['verify', '--export', file, '--log-key', logKey, ...args]);
}

async function alertsOf(node: TestApp, origin: string): Promise<string[]> {
  const { rows } = await withSystem(node.ctx.db, (tx) =>
    tx.query<{ kind: string }>(`SELECT kind FROM alerts WHERE resource_id = $1 ORDER BY created_at`, [origin]),
  );
  return rows.map((r) => r.kind);
}

describe('witnesses', () => {
  it('cosign each checkpoint after checking consistency with the last one they cosigned', async () => {
    const { admin, logKey } = await followedOrg();
    await activity(admin, 3);
    const first = await checkpoint(admin);
    expect(first.statusCode).toBe(200);
    expect(
      first
        .json()
        .cosignatures.map((s: { witness: string }) => s.witness)
        .sort(),
    ).toEqual([witnessName('node-b'), witnessName('node-c')]);
    await activity(admin, 4);
    const second = (await checkpoint(admin)).json();
    expect(second.size).toBeGreaterThan(first.json().size);
    const witnessVerifiers = [b, c].map((w) => parseVerifierKey(witnessKey.get(w)!));
    const opened = openCheckpoint(second.note, [parseVerifierKey(logKey)], witnessVerifiers);
    expect(opened.ok && opened.cosignatures.map((s) => s.name).sort()).toEqual([
      witnessName('node-b'),
      witnessName('node-c'),
    ]);
    // Each witness now stands at the second checkpoint.
    for (const w of [b, c]) {
      const state = await withSystem(w.ctx.db, (tx) =>
        tx.query<{ size: number }>(`SELECT max(size) AS size FROM witness_checkpoints WHERE origin = $1`, [
          `node-a-${run}.test/${admin.orgId}`,
        ]),
      );
      expect(Number(state.rows[0]!.size)).toBe(second.size);
    }
    const verified = await verifyCli(admin, [
      '--witness-key',
      witnessKey.get(b)!,
      '--witness-key',
      witnessKey.get(c)!,
      '--quorum',
      '2',
    ]);
    expect(verified.output).toContain(`cosigned by ${witnessName('node-b')}, ${witnessName('node-c')}`);
    expect(verified.code).toBe(0);
  });

  it('refuse a rewritten tail re-signed with a stolen key (split view), and verify catches it', async () => {
    const { admin, origin } = await followedOrg();
    await activity(admin, 4);
    const honest = (await checkpoint(admin)).json();
    expect(honest.cosignatures).toHaveLength(2);
    const size: number = honest.size;

    // The attacker holds the database and the log's key (stolen with the master key).
    const stolen = await ledgerFor(a.ctx).logSigner(admin.orgId);
    const { rows } = await withSystem(a.ctx.db, (tx) =>
      tx.query<{ entry: Uint8Array }>(`SELECT entry FROM ledger_entries WHERE log_id = $1 ORDER BY leaf_index`, [
        admin.orgId,
      ]),
    );
    const forged: Uint8Array[] = rows.slice(0, size).map((r) => new Uint8Array(r.entry));
    // Rewrite the last two entries: who did what becomes "denied".
    for (const i of [size - 2, size - 1])
      forged[i] = canonicalBytes({ ...parseCanonical(forged[i]!), outcome: 'denied' });
    const tree = createMerkleTree(forged.map((e) => hashLeaf(e)));
    const forgedNote = signCheckpoint({ origin, size, rootHash: tree.root(size) }, stolen);

    // Witness B already cosigned `size` with the honest root: a split view.
    const toB = await fetch(`${witnessUrl.get(b)}/add-checkpoint`, {
      method: 'POST',
      headers: { 'content-type': 'text/plain' },
      body: formatAddCheckpointRequest(size, [], forgedNote),
    });
    expect(toB.status).toBe(409);
    expect((await toB.json()).error.code).toBe('split_view');
    expect(await alertsOf(b, origin)).toContain('witness.split_view');

    // A longer forged tree, with a consistency proof from the forged history: refused too.
    const longer = [...forged, canonicalBytes({ ...parseCanonical(forged[0]!), seq: size })];
    const longerTree = createMerkleTree(longer.map((e) => hashLeaf(e)));
    const longerNote = signCheckpoint({ origin, size: size + 1, rootHash: longerTree.root() }, stolen);
    const toC = await fetch(`${witnessUrl.get(c)}/add-checkpoint`, {
      method: 'POST',
      headers: { 'content-type': 'text/plain' },
      body: formatAddCheckpointRequest(size, longerTree.consistencyProof(size), longerNote),
    });
    expect(toC.status).toBe(422);
    expect(await alertsOf(c, origin)).toContain('witness.bad_proof');
    // A smaller tree than witnessed is a split view as well.
    const shorter = signCheckpoint({ origin, size: size - 1, rootHash: tree.root(size - 1) }, stolen);
    const smaller = await fetch(`${witnessUrl.get(c)}/add-checkpoint`, {
      method: 'POST',
      headers: { 'content-type': 'text/plain' },
      body: formatAddCheckpointRequest(size, [], shorter),
    });
    expect(smaller.status).toBe(409);

    // The attacker rewrites A's database to match the forged checkpoint, as the owner.
    await withSystem(a.ctx.db, async (tx) => {
      await tx.query(`SET LOCAL session_replication_role = replica`);
      for (const i of [size - 2, size - 1]) {
        await tx.query(`UPDATE ledger_entries SET entry = $3, leaf_hash = $4 WHERE log_id = $1 AND leaf_index = $2`, [
          admin.orgId,
          i,
          forged[i],
          hashLeaf(forged[i]!),
        ]);
      }
      await tx.query(`DELETE FROM ledger_cosignatures WHERE log_id = $1 AND size = $2`, [admin.orgId, size]);
      await tx.query(`UPDATE ledger_checkpoints SET root_hash = $3, note = $4 WHERE log_id = $1 AND size = $2`, [
        admin.orgId,
        size,
        tree.root(size),
        forgedNote,
      ]);
    });
    // With only the (stolen) log key, the forged tail is self-consistent …
    const keyOnly = await verifyCli(admin, []);
    expect(keyOnly.code).toBe(0);
    // … but requiring the witnesses' cosignatures catches it,
    const withWitnesses = await verifyCli(admin, ['--witness-key', witnessKey.get(b)!, '--quorum', '1']);
    expect(withWitnesses.code).toBe(1);
    expect(withWitnesses.output).toContain(`(size ${size}): 0 witness cosignature(s), 1 required`);
    // and so does the checkpoint the witness cosigned, fetched from the witness.
    const held = await withSystem(b.ctx.db, (tx) =>
      tx.query<{ note: string }>(`SELECT note FROM witness_checkpoints WHERE origin = $1 AND size = $2`, [
        origin,
        size,
      ]),
    );
    const file = join(work, 'witnessed.note');
    writeFileSync(file, held.rows[0]!.note);
    const againstWitness = await verifyCli(admin, ['--checkpoint', file]);
    expect(againstWitness.code).toBe(1);
    expect(againstWitness.output).toMatch(/split view|root does not match/);
  });

  it('answers a malformed or unknown add-checkpoint with a clear 4xx', async () => {
    const url = `${witnessUrl.get(b)}/add-checkpoint`;
    const post = (body: string) => fetch(url, { method: 'POST', headers: { 'content-type': 'text/plain' }, body });
    const malformed = await post('hello');
    expect(malformed.status).toBe(400);
    expect((await malformed.json()).error.code).toBe('bad_request');
    const unknown = await post(
      'old 0\n\nnobody.test/x\n1\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n\n\u2014 x AAAA\n',
    );
    expect(unknown.status).toBe(404);
  });
});
