/**
 * `npm run bench`: measures the foundation on this machine, on embedded PGlite and (when a server
 * answers at BENCH_DATABASE_URL, default postgres://postgres@127.0.0.1:5432/scanflow_bench) on
 * PostgreSQL. The server runs as its own process (`scanflow serve`), as in production; this
 * process only generates load over loopback.
 *
 *   login rate            sign-ins per second (Argon2id verify + session + tokens)
 *   upload throughput     MB/s of DICOM uploaded over HTTP, including probing, encryption, hashing
 *   worklist latency      p50/p99 and requests/s with 100 concurrent clients over 100,000 scans
 *
 * Prints a table and writes bench/results/foundation-<timestamp>.json.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { freshPostgres } from './postgres.ts';
import { benchInference } from '@scanflow/inference/bench';
import { loadConfig } from '../packages/server/src/config.ts';
import { createContext } from '../packages/server/src/context.ts';
import { UserService } from '../packages/server/src/services/user-service.ts';
import { currentTotp } from '../packages/server/src/auth/totp.ts';
import { dicomBytes } from '../packages/server/test/fixtures.ts';
import { closedLoop, percentile, round } from './stats.ts';
import { quietServerEnv } from './server-env.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const BIN = join(ROOT, 'packages/server/bin/scanflow.js');
const SCANS = Number(process.env.BENCH_SCANS ?? 100_000);
const CLIENTS = Number(process.env.BENCH_CLIENTS ?? 100);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const PG_URL = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/scanflow_bench';

interface Result {
  database: 'pglite' | 'postgres';
  loginsPerSecond: number;
  uploadMBps: number;
  worklist: { clients: number; scans: number; requestsPerSecond: number; p50ms: number; p99ms: number; errors: number };
}

/** Seeds an organisation with users and SCANS scans directly in SQL (the bench measures reads). */
async function seed(
  env: Record<string, string>,
): Promise<Record<string, { email: string; password: string; totp: string | null }>> {
  const ctx = await createContext(loadConfig(env));
  const users = new UserService(ctx);
  const accounts: Record<string, { email: string; password: string; totp: string | null }> = {};
  let orgId = '';
  for (const role of ['doctor', 'patient', 'admin'] as const) {
    const email = `bench-${role}@example.test`;
    const password = `bench-${randomBytes(8).toString('hex')}`;
    const created = await users.createAsOperator({
      organisation: 'bench',
      email,
      name: `Bench ${role}`,
      role,
      password,
    });
    accounts[role] = { email, password, totp: created.totpSecret };
    orgId = created.orgId;
  }
  const name = ctx.cipher.encrypt('Synthetic Patient');
  await ctx.db.query(`INSERT INTO patients (org_id, name_enc) SELECT $1, $2 FROM generate_series(1, 1000)`, [
    orgId,
    name,
  ]);
  const ai = {
    model: { name: 'bench', version: '0' },
    labels: ['nodule', 'consolidation', 'pleural_effusion', 'pneumothorax', 'cardiomegaly'].map((id) => ({
      id,
      display: id,
      probability: 0.5,
    })),
    topFinding: { id: 'nodule', display: 'Nodule', probability: 0.5 },
    uncertain: true,
    priorityScore: 0.5,
    priority: 'ROUTINE',
    disclaimer: 'Decision support only.',
  };
  const batch = 20_000;
  for (let done = 0; done < SCANS; done += batch) {
    await ctx.db.query(
      `INSERT INTO scans (org_id, patient_id, source, status, priority, priority_rank, priority_score, blob_sha256,
                          byte_size, media_type, format, width, height, ai_result, received_at, status_since)
       SELECT $1, p.id, 'upload', s.status,
              CASE WHEN random() < 0.1 THEN 'HIGH' ELSE 'ROUTINE' END, 1, random(),
              encode(sha256(('bench' || g)::bytea), 'hex'), 1000000, 'application/dicom', 'dicom', 2048, 2048, $3::jsonb,
              now() - (g || ' seconds')::interval, now() - (g || ' seconds')::interval
         FROM generate_series($2::int + 1, $2::int + $4::int) g
         CROSS JOIN LATERAL (SELECT (ARRAY['PENDING_AI','AI_ANALYZED','DOCTOR_VERIFIED','PHARMACIST_COMPLETED','REPORT_READY'])[1 + g % 5] AS status) s
         CROSS JOIN LATERAL (SELECT id FROM patients WHERE org_id = $1 OFFSET g % 1000 LIMIT 1) p`,
      [orgId, done, JSON.stringify(ai), Math.min(batch, SCANS - done)],
    );
  }
  await ctx.db.query(`UPDATE scans SET priority_rank = 0 WHERE priority = 'HIGH'`);
  await ctx.db.query('ANALYZE');
  await ctx.db.close();
  return accounts;
}

async function startServer(env: Record<string, string>, port: number): Promise<ChildProcess> {
  const child = spawn('node', [BIN, 'serve'], {
    env: { ...process.env, ...env, PORT: String(port) },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  for (let i = 0; i < 120; i++) {
    await new Promise((r) => setTimeout(r, 250));
    const ok = await fetch(`http://127.0.0.1:${port}/readyz`).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) return child;
  }
  child.kill();
  throw new Error('server did not become ready');
}

async function signIn(
  base: string,
  account: { email: string; password: string; totp: string | null },
): Promise<string> {
  const res = await fetch(`${base}/api/v1/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email: account.email, password: account.password }),
  });
  let body = (await res.json()) as { status: string; accessToken?: string; challenge?: string };
  if (body.status === 'second_factor_required') {
    const verify = await fetch(`${base}/api/v1/auth/totp/verify`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ challenge: body.challenge, code: await currentTotp(account.totp!) }),
    });
    body = (await verify.json()) as typeof body;
  }
  if (!body.accessToken) throw new Error(`sign-in failed: ${JSON.stringify(body)}`);
  return body.accessToken;
}

/** A fresh, quiet server's settings (bench/server-env.ts). */
const serverEnv = (dataDir: string) => quietServerEnv(dataDir);

async function measure(database: 'pglite' | 'postgres', port: number): Promise<Result> {
  const dataDir = mkdtempSync(join(tmpdir(), `scanflow-bench-${database}-`));
  const env: Record<string, string> = {
    ...serverEnv(dataDir),
    MAX_UPLOAD_BYTES: String(64 * 1024 * 1024),
    // The foundation's numbers without AI work competing for the cores; see measurePreread.
    RUN_WORKER: 'false',
    ...(database === 'postgres' ? { DATABASE_URL: PG_URL } : {}),
  };
  process.stderr.write(`[${database}] seeding ${SCANS} scans…\n`);
  const accounts = await seed(env);
  const server = await startServer(env, port);
  const base = `http://127.0.0.1:${port}`;
  try {
    // Login rate: 4 concurrent clients signing in for 5 s (the patient has no second factor).
    process.stderr.write(`[${database}] login rate…\n`);
    const logins = await closedLoop(4, 5, async () => {
      const res = await fetch(`${base}/api/v1/auth/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ email: accounts.patient!.email, password: accounts.patient!.password }),
      });
      if (res.status !== 200) throw new Error(String(res.status));
      await res.arrayBuffer();
    });

    // Upload throughput: 24 files of 2048 × 2560 16-bit DICOM (10 MB each), 2 uploads at a time.
    // Files are made before the clock starts (each with its own SOP Instance UID: the same instance
    // twice is refused as a duplicate), so the load generator measures the server, not dcmjs.
    process.stderr.write(`[${database}] upload throughput…\n`);
    const patientToken = await signIn(base, accounts.patient!);
    const files = Array.from({ length: 24 }, () => new Uint8Array(dicomBytes({ rows: 2048, columns: 2560 })));
    let next = 0;
    let uploadedBytes = 0;
    const uploadStart = performance.now();
    await Promise.all(
      [0, 1].map(async () => {
        while (next < files.length) {
          const bytes = files[next++]!;
          const form = new FormData();
          form.append('files', new Blob([bytes]), 'bench.dcm');
          const res = await fetch(`${base}/api/v1/scans`, {
            method: 'POST',
            headers: { authorization: `Bearer ${patientToken}` },
            body: form,
          });
          if (res.status !== 201) throw new Error(`${res.status} ${await res.text()}`);
          await res.arrayBuffer();
          uploadedBytes += bytes.length;
        }
      }),
    );
    const uploadSeconds = (performance.now() - uploadStart) / 1000;

    // Worklist: CLIENTS concurrent doctors' clients reading the first page of the queue.
    process.stderr.write(`[${database}] worklist with ${CLIENTS} clients for ${SECONDS} s…\n`);
    const doctorToken = await signIn(base, accounts.doctor!);
    // autocannon (the load generator Fastify's own benchmarks use) keeps CLIENTS connections busy;
    // it is far lighter than fetch, so more of the two cores go to the server and PostgreSQL.
    const load = (seconds: number) =>
      autocannon({
        url: `${base}/api/v1/scans?limit=50`,
        connections: CLIENTS,
        duration: seconds,
        headers: { authorization: `Bearer ${doctorToken}` },
      });
    await load(2); // warm-up
    const worklist = await load(SECONDS);

    return {
      database,
      loginsPerSecond: round(logins.latencies.length / logins.elapsed),
      uploadMBps: round(uploadedBytes / 1e6 / uploadSeconds),
      worklist: {
        clients: CLIENTS,
        scans: SCANS,
        requestsPerSecond: round(worklist.requests.average),
        p50ms: round(worklist.latency.p50),
        p99ms: round(worklist.latency.p99),
        errors: worklist.errors + worklist.non2xx + worklist.timeouts,
      },
    };
  } finally {
    server.kill('SIGTERM');
    await new Promise((r) => server.once('exit', r));
    rmSync(dataDir, { recursive: true, force: true });
  }
}

/**
 * Time from upload to AI_ANALYZED (the pre-read target is under a second): one 2048 × 2048 DICOM
 * at a time through a server running its worker, on PGlite.
 */
async function measurePreread(port: number): Promise<{ uploads: number; p50ms: number; p99ms: number; maxms: number }> {
  const dataDir = mkdtempSync(join(tmpdir(), 'scanflow-bench-ai-'));
  const env = serverEnv(dataDir);
  const ctx = await createContext(loadConfig(env));
  const users = new UserService(ctx);
  await users.createAsOperator({
    organisation: 'bench',
    email: 'p@example.test',
    name: 'P',
    role: 'patient',
    password: 'bench-password-1',
  });
  const doctor = await users.createAsOperator({
    organisation: 'bench',
    email: 'd@example.test',
    name: 'D',
    role: 'doctor',
    password: 'bench-password-2',
  });
  void doctor;
  await ctx.db.close();
  const server = await startServer(env, port);
  const base = `http://127.0.0.1:${port}`;
  try {
    const patientToken = await signIn(base, { email: 'p@example.test', password: 'bench-password-1', totp: null });
    const doctorToken = await signIn(base, { email: 'd@example.test', password: 'bench-password-2', totp: null });
    const files = Array.from({ length: 12 }, () => new Uint8Array(dicomBytes({ rows: 2048, columns: 2048 })));
    const latencies: number[] = [];
    for (const [index, bytes] of files.entries()) {
      const form = new FormData();
      form.append('files', new Blob([bytes]), 'chest.dcm');
      const started = performance.now();
      const res = await fetch(`${base}/api/v1/scans`, {
        method: 'POST',
        headers: { authorization: `Bearer ${patientToken}` },
        body: form,
      });
      const id = ((await res.json()) as { scans: { id: string }[] }).scans[0]!.id;
      for (;;) {
        const detail = await fetch(`${base}/api/v1/scans/${id}`, {
          headers: { authorization: `Bearer ${doctorToken}` },
        });
        if (((await detail.json()) as { status: string }).status === 'AI_ANALYZED') break;
        await new Promise((r) => setTimeout(r, 10));
      }
      if (index >= 2) latencies.push(performance.now() - started); // the first two warm the model and decoder
    }
    latencies.sort((a, b) => a - b);
    return {
      uploads: latencies.length,
      p50ms: round(percentile(latencies, 50)),
      p99ms: round(percentile(latencies, 99)),
      maxms: round(latencies.at(-1)!),
    };
  } finally {
    server.kill('SIGTERM');
    await new Promise((r) => server.once('exit', r));
    rmSync(dataDir, { recursive: true, force: true });
  }
}

/**
 * Further sections, one module each under bench/: `run()` returns a Markdown table (printed) and
 * a JSON value (saved). BENCH_ONLY=api,ai,<section>… runs a subset; the default runs everything.
 */
interface Section {
  name: string;
  load: () => Promise<{ run(): Promise<{ table: string; json: unknown }> }>;
}
const SECTIONS: Section[] = [
  { name: 'reports', load: () => import('./reports.ts') },
  // AI pre-read: time-to-triage, stage timings, sustained scans/s by workers (issue 4).
  { name: 'ai-throughput', load: () => import('./ai-throughput.ts') },
  // DIMSE ingest rate: storescu → Scanflow's DICOM listener and → Orthanc, in the same run.
  { name: 'dimse', load: () => import('./dimse.ts') },
  // Live updates: WebSocket fan-out latency to 500 clients and events/s (issue 7).
  { name: 'live', load: () => import('./live.ts') },
  // Decode time per transfer syntax and size: 512², 2048² 16-bit, multi-frame (issue 3).
  { name: 'decode', load: () => import('./decode.ts') },
  // The web app: first load (bytes, time to interactive) and status change → another browser (issue 7).
  { name: 'web', load: () => import('./web.ts') },
  // The tamper-evident log: append rate under API load, proofs and replay at 1M entries (issue 5).
  { name: 'ledger', load: () => import('./ledger.ts') },
];
const only = process.env.BENCH_ONLY?.split(',');
const runs = (name: string) => !only || only.includes(name);

// BENCH_DATABASES=postgres (or pglite) measures one of them only.
const wanted = runs('api') ? (process.env.BENCH_DATABASES ?? 'pglite,postgres').split(',') : [];
const results: Result[] = [];
if (wanted.includes('pglite')) results.push(await measure('pglite', 18_081));
if (wanted.includes('postgres')) {
  if (await freshPostgres(PG_URL)) results.push(await measure('postgres', 18_082));
  else process.stderr.write(`PostgreSQL not reachable at ${PG_URL}; skipped\n`);
}

process.stderr.write('[ai] upload → AI_ANALYZED latency…\n');
const skipAi = process.env.BENCH_SKIP_AI || !runs('ai');
const preread = skipAi ? null : await measurePreread(18_083);
process.stderr.write('[ai] model pipeline latency…\n');
const inference = skipAi ? null : await benchInference({ iterations: 100 });
const sections: Record<string, { table: string; json: unknown }> = {};
for (const section of SECTIONS.filter((s) => runs(s.name))) {
  process.stderr.write(`[${section.name}]…\n`);
  sections[section.name] = await (await section.load()).run();
}

console.log('\nScanflow foundation benchmark (this machine)\n');
console.log('| database | logins/s | upload MB/s | worklist req/s | p50 ms | p99 ms | errors |');
console.log('| --- | --- | --- | --- | --- | --- | --- |');
for (const r of results) {
  console.log(
    `| ${r.database} | ${r.loginsPerSecond} | ${r.uploadMBps} | ${r.worklist.requestsPerSecond} | ${r.worklist.p50ms} | ${r.worklist.p99ms} | ${r.worklist.errors} |`,
  );
}
if (preread) {
  console.log('\n| AI pre-read (2048² DICOM, upload → AI_ANALYZED) | p50 ms | p99 ms | max ms |');
  console.log('| --- | --- | --- | --- |');
  console.log(`| ${preread.uploads} uploads, one at a time | ${preread.p50ms} | ${preread.p99ms} | ${preread.maxms} |`);
}
if (inference) {
  console.log(
    `\n| ${inference.model.name} ${inference.model.version}: analyse() | p50 ms | p99 ms | preprocess p50 | inference p50 | explain p50 |`,
  );
  console.log('| --- | --- | --- | --- | --- | --- |');
  for (const [kind, a] of Object.entries(inference.analyse)) {
    console.log(
      `| ${kind} | ${round(a.total.p50)} | ${round(a.total.p99)} | ${round(a.preprocess.p50)} | ${round(a.inference.p50)} | ${round(a.explain.p50)} |`,
    );
  }
  const run = inference.sessionRun;
  console.log(
    `| session.run batch 1 / batch ${run.batched.batch} per image | ${round(run.batch1.p50, 2)} / ${round(run.batched.perImage, 2)} | | | | |`,
  );
}
for (const [name, section] of Object.entries(sections)) console.log(`\n### ${name}\n\n${section.table}`);
const out = join(ROOT, 'bench/results');
mkdirSync(out, { recursive: true });
const file = join(out, `foundation-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
const json = JSON.stringify(
  {
    machine: { cpus: (await import('node:os')).cpus().length },
    clients: CLIENTS,
    scans: SCANS,
    results,
    preread,
    inference,
    sections: Object.fromEntries(Object.entries(sections).map(([name, s]) => [name, s.json])),
  },
  null,
  2,
);
writeFileSync(file, json);
console.log(`\n${json}\nwritten to ${file}`);
