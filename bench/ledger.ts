/**
 * `BENCH_ONLY=ledger npm run bench`: the tamper-evident log on this machine.
 *
 *   append rate      audit events sequenced into log leaves per second while API requests run
 *                    (a backlog of BENCH_LEDGER_BACKLOG events plus the requests' own events;
 *                    the API, its load generator and the sequencer share one process: pessimistic),
 *                    on PGlite and, when reachable, PostgreSQL (target ≥ 5,000/s)
 *   proofs at 1M     inclusion and consistency proof generation over a 1,000,000-leaf tree held in
 *                    memory, as the server holds each log's tree (ledger/trees.ts); target < 1 ms
 *   replay at 1M     `ledger verify` of 1,000,000 canonical entries with a signed checkpoint every
 *                    100,000: parse, canonical check, leaf hash, tree, signatures, consistency
 *                    (the entries generated first, untimed, into one buffer as an export holds
 *                    them; until 2026-11-23 their generation was inside the timing); target < 30 s
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  canonicalBytes,
  createLogVerifier,
  createMerkleTree,
  createNoteSigner,
  generateEd25519Seed,
  hashLeaf,
  parseVerifierKey,
  signCheckpoint,
} from '@scanflow/ledger';
import { loadConfig } from '../packages/server/src/config.ts';
import { createContext } from '../packages/server/src/context.ts';
import { withSystem } from '../packages/server/src/db/scope.ts';
import { buildApp } from '../packages/server/src/http/app.ts';
import { ledgerFor } from '../packages/server/src/services/ledger-service.ts';
import { UserService } from '../packages/server/src/services/user-service.ts';
import { freshPostgres } from './postgres.ts';
import { percentile, round } from './stats.ts';

const BACKLOG = Number(process.env.BENCH_LEDGER_BACKLOG ?? 100_000);
const MILLION = Number(process.env.BENCH_LEDGER_ENTRIES ?? 1_000_000);
const PG_URL = process.env.BENCH_LEDGER_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/scanflow_bench_ledger';

interface AppendResult {
  database: string;
  appended: number;
  seconds: number;
  appendsPerSecond: number;
  apiRequestsPerSecond: number;
  apiP99ms: number;
}

async function appendRate(database: 'pglite' | 'postgres'): Promise<AppendResult> {
  const dataDir = mkdtempSync(join(tmpdir(), 'scanflow-bench-ledger-'));
  const ctx = await createContext(
    loadConfig({
      DATA_DIR: dataDir,
      SCANFLOW_MASTER_KEY: randomBytes(32).toString('hex'),
      LOG_LEVEL: 'silent',
      SEED_DEMO: 'false',
      ...(database === 'postgres' ? { DATABASE_URL: PG_URL } : {}),
    }),
  );
  const app = await buildApp(ctx, { logger: false });
  try {
    const password = `bench-${randomUUID()}`;
    const email = `bench-ledger-${randomUUID().slice(0, 8)}@example.test`;
    const created = await new UserService(ctx).createAsOperator({
      organisation: 'bench-ledger',
      email,
      name: 'Bench Doctor',
      role: 'doctor',
      password,
    });
    await app.listen({ port: 0, host: '127.0.0.1' });
    const base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
    const login = await fetch(`${base}/api/v1/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email, password }),
    });
    const token = ((await login.json()) as { accessToken: string }).accessToken;
    const ledger = ledgerFor(ctx);
    await ledger.sequenceNow(); // warm-up (statements, JIT), and the sign-up's own events
    // The backlog: audit events as requests write them, with a content hash in their details.
    await withSystem(ctx.db, (tx) =>
      tx.query(
        `INSERT INTO audit_events (org_id, actor_user_id, actor_role, action, resource_type, resource_id, outcome,
                                   client_address, details)
         SELECT $1, $2, 'doctor', 'scan.view', 'scan', gen_random_uuid()::text, 'success', '10.0.0.' || (i % 250),
                jsonb_build_object('sha256', encode(sha256(i::text::bytea), 'hex'))
           FROM generate_series(1, $3::int) AS i`,
        [created.orgId, created.userId, BACKLOG],
      ),
    );
    let appended = 0;
    let draining = true;
    const start = performance.now();
    // Eight clients read the worklist (each read is authorised and writes its own audit event)
    // until the backlog has been sequenced.
    const latencies: number[] = [];
    const load = Promise.all(
      Array.from({ length: 8 }, async () => {
        while (draining) {
          const t0 = performance.now();
          const res = await fetch(`${base}/api/v1/scans`, { headers: { authorization: `Bearer ${token}` } });
          await res.arrayBuffer();
          latencies.push(performance.now() - t0);
        }
      }),
    );
    while (appended < BACKLOG) appended += await ledger.sequenceNow();
    const seconds = (performance.now() - start) / 1000;
    draining = false;
    await load;
    latencies.sort((a, b) => a - b);
    return {
      database,
      appended,
      seconds: round(seconds, 2),
      appendsPerSecond: Math.round(appended / seconds),
      apiRequestsPerSecond: Math.round(latencies.length / seconds),
      apiP99ms: round(percentile(latencies, 99)),
    };
  } finally {
    await app.close();
    await ctx.db.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

/** A realistic entry at leaf `seq`: the shape the sequencer writes for a scan view. */
function syntheticEntry(seq: number): Uint8Array {
  return canonicalBytes({
    seq,
    orgId: '6f1c2a4e-8b1d-4c3e-9a2f-0d5e7b9c1a3f',
    at: new Date(1_790_000_000_000 + seq * 7).toISOString(),
    actorUserId: '2b7e9c1d-3f4a-4b5c-8d6e-7f8091a2b3c4',
    actorRole: 'doctor',
    action: 'scan.view',
    resourceType: 'scan',
    resourceId: `9c8b7a6d-5e4f-4a3b-8c2d-${String(seq).padStart(12, '0')}`,
    outcome: 'success',
    extra: { auditSeq: seq + 1, auditId: '00000000-0000-4000-8000-000000000000', sha256: 'ab'.repeat(32) },
  });
}

function proofTimes(): {
  buildSeconds: number;
  inclusionP50us: number;
  inclusionP99us: number;
  consistencyP50us: number;
  consistencyP99us: number;
} {
  const t0 = performance.now();
  const tree = createMerkleTree();
  for (let i = 0; i < MILLION; i++) tree.append(hashLeaf(syntheticEntry(i)));
  const buildSeconds = (performance.now() - t0) / 1000;
  const time = (fn: () => void) => {
    const out: number[] = [];
    for (let i = 0; i < 2_000; i++) {
      const s = performance.now();
      fn();
      out.push((performance.now() - s) * 1000);
    }
    return out.sort((a, b) => a - b);
  };
  const random = (n: number) => Math.floor(Math.random() * n);
  // Against arbitrary checkpoint sizes, not only the current size (the worst case: no cached root).
  const inclusion = time(() => {
    const size = MILLION - random(MILLION / 2);
    tree.inclusionProof(random(size), size);
  });
  const consistency = time(() => {
    const size2 = MILLION - random(MILLION / 2);
    tree.consistencyProof(1 + random(size2 - 1), size2);
  });
  return {
    buildSeconds: round(buildSeconds, 1),
    inclusionP50us: round(percentile(inclusion, 50)),
    inclusionP99us: round(percentile(inclusion, 99)),
    consistencyP50us: round(percentile(consistency, 50)),
    consistencyP99us: round(percentile(consistency, 99)),
  };
}

function replay(): { entries: number; checkpoints: number; seconds: number; ok: boolean } {
  const signer = createNoteSigner('bench.test/replay', generateEd25519Seed());
  const every = 100_000;
  // Untimed: the entries, back to back in one buffer as an export holds them, and the log's own
  // checkpoints (what the node signed as it grew).
  const tree = createMerkleTree();
  const checkpoints: string[] = [];
  const pieces: Uint8Array[] = [];
  const ends = new Uint32Array(MILLION);
  let length = 0;
  for (let i = 0; i < MILLION; i++) {
    const bytes = syntheticEntry(i);
    pieces.push(bytes);
    ends[i] = length += bytes.length;
    tree.append(hashLeaf(bytes));
    if ((i + 1) % every === 0)
      checkpoints.push(signCheckpoint({ origin: signer.name, size: i + 1, rootHash: tree.root() }, signer));
  }
  const exported = Buffer.concat(pieces, length);
  pieces.length = 0;
  const start = performance.now();
  const verifier = createLogVerifier({
    checkpoints,
    logKeys: [parseVerifierKey(signer.verifierKey)],
    origin: signer.name,
  });
  for (let i = 0, from = 0; i < MILLION; from = ends[i]!, i++) {
    if (verifier.push(exported.subarray(from, ends[i])) !== undefined) break;
  }
  const report = verifier.finish();
  return {
    entries: report.entriesRead,
    checkpoints: report.verified.length,
    seconds: round((performance.now() - start) / 1000, 1),
    ok: report.ok,
  };
}

export async function run(): Promise<{ table: string; json: unknown }> {
  const appends: AppendResult[] = [await appendRate('pglite')];
  if (await freshPostgres(PG_URL)) appends.push(await appendRate('postgres'));
  else process.stderr.write(`PostgreSQL not reachable at ${PG_URL}; ledger append rate on PGlite only\n`);
  const proofs = proofTimes();
  const verify = replay();
  const table = [
    '| ledger: append rate with API load | appended | seconds | appends/s | API req/s meanwhile | API p99 ms |',
    '| --- | --- | --- | --- | --- | --- |',
    ...appends.map(
      (a) =>
        `| ${a.database} | ${a.appended} | ${a.seconds} | ${a.appendsPerSecond} | ${a.apiRequestsPerSecond} | ${a.apiP99ms} |`,
    ),
    '',
    `| ledger at ${MILLION.toLocaleString('en')} entries (tree in memory) | p50 µs | p99 µs |`,
    '| --- | --- | --- |',
    `| inclusion proof | ${proofs.inclusionP50us} | ${proofs.inclusionP99us} |`,
    `| consistency proof | ${proofs.consistencyP50us} | ${proofs.consistencyP99us} |`,
    `| (building the tree: ${proofs.buildSeconds} s) | | |`,
    '',
    `| ledger verify (replay) | entries | checkpoints | seconds | ok |`,
    '| --- | --- | --- | --- | --- |',
    `| ${MILLION.toLocaleString('en')} entries | ${verify.entries} | ${verify.checkpoints} | ${verify.seconds} | ${verify.ok} |`,
  ].join('\n');
  return { table, json: { appends, proofs, verify } };
}
