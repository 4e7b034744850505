/**
 * `BENCH_ONLY=ai-throughput npm run bench`: the AI pre-read as a user meets it (issue 4, "Measured").
 *
 *   time-to-triage   upload accepted (201) → AI_ANALYZED visible in the database (the worker's
 *                    'scan-analysed' signal, sent after the result committed; the status is then
 *                    checked), one scan at a time, through the app and worker `scanflow serve` runs
 *                    (in this process, on PGlite)
 *   stages           per scan, from each analysis's recorded timings: read (decrypt + verify),
 *                    decode, preprocess, infer, explain (Grad-CAM); the heatmap's pictures are
 *                    drawn when first asked for, timed as GET /scans/{id}/analysis/overlay
 *   sustained        scans/s with the queue full: N queued scans analysed by 1, 2, … worker slots in
 *                    one process, and (on PostgreSQL) by 1, 2, … `scanflow worker` processes; the
 *                    rate is taken between the first and the last commit of results (the first
 *                    commit's scans not counted), so start-up is excluded
 *
 * for a 2048×2048 16-bit DICOM and a 1024×1024 8-bit PNG. BENCH_AI_SCANS sets N (default 120: fifteen batches).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { cpus, loadavg, tmpdir } from 'node:os';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freshPostgres } from './postgres.ts';
import { loadConfig } from '../packages/server/src/config.ts';
import { createContext, type AppContext } from '../packages/server/src/context.ts';
import { buildApp } from '../packages/server/src/http/app.ts';
import { startBackgroundWork } from '../packages/server/src/background.ts';
import { UserService } from '../packages/server/src/services/user-service.ts';
import { dicomBytes, pngBytes } from '../packages/server/test/fixtures.ts';
import { bearer, multipart, signIn } from '../packages/server/test/harness.ts';
import { quietServerEnv } from './server-env.ts';
import { percentile, round } from './stats.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const BIN = join(ROOT, 'packages/server/bin/scanflow.js');
const SCANS = Number(process.env.BENCH_AI_SCANS ?? 120);
const PG_URL = process.env.BENCH_AI_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/scanflow_bench_ai';
const STAGES = ['read', 'decode', 'preprocess', 'infer', 'explain'] as const;
const silent = { info: () => undefined, warn: () => undefined, error: () => undefined };

interface Kind {
  name: string;
  file: () => Promise<Buffer>;
}
const KINDS: Kind[] = [
  { name: 'dicom-2048x2048-16bit', file: async () => dicomBytes({ rows: 2048, columns: 2048 }) },
  { name: 'png-1024x1024-8bit', file: () => pngBytes(1024, 1024, 7) },
];

const env = quietServerEnv;

async function patientOf(ctx: AppContext): Promise<{ orgId: string; email: string; password: string }> {
  const email = `bench-${randomBytes(4).toString('hex')}@example.test`;
  const password = `bench-${randomBytes(8).toString('hex')}`;
  const created = await new UserService(ctx).createAsOperator({
    organisation: `bench-ai-${randomBytes(4).toString('hex')}`,
    email,
    name: 'Bench patient',
    role: 'patient',
    password,
  });
  return { orgId: created.orgId, email, password };
}

const median = (values: number[]) =>
  percentile(
    [...values].sort((a, b) => a - b),
    50,
  );

async function stageMedians(ctx: AppContext, scanIds: string[]): Promise<Record<string, number>> {
  const { rows } = await ctx.db.query<{ timings: Record<string, number> }>(
    'SELECT timings FROM analyses WHERE scan_id = ANY($1::uuid[])',
    [scanIds],
  );
  return Object.fromEntries(STAGES.map((s) => [s, round(median(rows.map((r) => r.timings[s] ?? NaN)), 1)]));
}

/** Upload one at a time through the app (as `scanflow serve` runs it), until each is analysed. */
async function timeToTriage(kind: Kind, uploads = 14) {
  const dataDir = mkdtempSync(join(tmpdir(), 'scanflow-bench-triage-'));
  const ctx = await createContext(loadConfig(env(dataDir)));
  const client = await uploader(ctx);
  const work = await startBackgroundWork(ctx, silent);
  try {
    const files = await Promise.all(Array.from({ length: uploads }, () => kind.file()));
    const accepted: number[] = [];
    // From sending the upload, for comparison: includes receiving, probing and storing it.
    const whole: number[] = [];
    const ids: string[] = [];
    // The worker's signal after the result's transaction committed, rather than polling the
    // database: polling PGlite shares the one thread with the work it waits for and slowed it.
    const analysedAt = new Map<string, number>();
    const waiting = new Map<string, () => void>();
    const onAnalysed = ({ scanId }: { scanId: string }) => {
      analysedAt.set(scanId, performance.now());
      waiting.get(scanId)?.();
    };
    ctx.signals.on('scan-analysed', onAnalysed);
    for (const [index, bytes] of files.entries()) {
      const started = performance.now();
      const id = await client.upload(bytes);
      const t0 = performance.now();
      if (!analysedAt.has(id)) await new Promise<void>((resolve) => waiting.set(id, resolve));
      const done = analysedAt.get(id)!;
      const { rows } = await ctx.db.query<{ status: string }>('SELECT status FROM scans WHERE id = $1', [id]);
      if (rows[0]?.status !== 'AI_ANALYZED') throw new Error(`scan ${id} is ${rows[0]?.status}, not AI_ANALYZED`);
      // The first two warm the model, the decoder threads and the code paths.
      if (index >= 2) {
        accepted.push(done - t0);
        whole.push(done - started);
        ids.push(id);
      }
    }
    ctx.signals.off('scan-analysed', onAnalysed);
    accepted.sort((a, b) => a - b);
    whole.sort((a, b) => a - b);
    // The overlay as a viewer first asks for it: drawn from the analysis's grid (request included).
    const drawn: number[] = [];
    for (const id of ids) {
      const started = performance.now();
      await client.get(`/api/v1/scans/${id}/analysis/overlay`);
      drawn.push(performance.now() - started);
    }
    return {
      uploads: accepted.length,
      fromUploadStartP50ms: round(percentile(whole, 50)),
      p50ms: round(percentile(accepted, 50)),
      p99ms: round(percentile(accepted, 99)),
      stagesMs: await stageMedians(ctx, ids),
      overlayOnRequestP50ms: round(median(drawn), 1),
    };
  } finally {
    await work.stop();
    await client.close();
    await ctx.db.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

/** An HTTP upload through the app, as a patient of a new organisation. */
async function uploader(ctx: AppContext) {
  const app = await buildApp(ctx, { logger: false });
  await app.ready();
  const patient = await patientOf(ctx);
  const session = await signIn(
    { app, ctx, dataDir: '', close: async () => undefined },
    patient.email,
    patient.password,
    null,
  );
  return {
    orgId: patient.orgId,
    async upload(bytes: Buffer): Promise<string> {
      const body = multipart([{ name: 'scan', bytes }]);
      const res = await app.inject({
        method: 'POST',
        url: '/api/v1/scans',
        payload: body.payload,
        headers: { ...body.headers, ...bearer(session) },
      });
      if (res.statusCode !== 201) throw new Error(`upload: ${res.statusCode} ${res.body}`);
      return res.json().scans[0].id as string;
    },
    async get(url: string): Promise<Buffer> {
      const res = await app.inject({ method: 'GET', url, headers: bearer(session) });
      if (res.statusCode !== 200) throw new Error(`GET ${url}: ${res.statusCode} ${res.body}`);
      return res.rawPayload;
    },
    close: () => app.close(),
  };
}

/** N copies of one uploaded scan (one blob, content-addressed), each with its queued pre-read job. */
async function fillQueue(ctx: AppContext, bytes: Buffer, n: number): Promise<{ orgId: string; ids: string[] }> {
  const client = await uploader(ctx);
  const firstId = await client.upload(bytes);
  await client.close();
  const { rows } = await ctx.db.query<{ id: string }>(
    `WITH copies AS (
       INSERT INTO scans (org_id, patient_id, patient_user_id, uploaded_by, source, blob_sha256, byte_size, media_type,
                          format, width, height, frames)
       SELECT org_id, patient_id, patient_user_id, uploaded_by, source, blob_sha256, byte_size, media_type, format,
              width, height, frames
         FROM scans, generate_series(2, $2::int) WHERE id = $1
       RETURNING id, org_id)
     INSERT INTO jobs (org_id, kind, payload) SELECT org_id, 'ai_preread', jsonb_build_object('scanId', id) FROM copies
     RETURNING payload->>'scanId' AS id`,
    [firstId, n],
  );
  return { orgId: client.orgId, ids: [firstId, ...rows.map((r) => r.id)] };
}

/**
 * Scans per second between the first and the last result of these scans. Results are committed a
 * batch at a time, so the scans of the first commit are not counted: they finished before the
 * window opened (counting them overstated a 40-scan run by about a fifth).
 */
async function rateOf(ctx: AppContext, ids: string[]): Promise<{ done: number; perSecond: number }> {
  const { rows } = await ctx.db.query<{ done: number; after_first: number; seconds: number }>(
    `WITH r AS (SELECT ai_recorded_at AS at FROM scans WHERE id = ANY($1::uuid[]) AND status = 'AI_ANALYZED')
     SELECT count(*)::int AS done, count(*) FILTER (WHERE at > (SELECT min(at) FROM r))::int AS after_first,
            extract(epoch FROM max(at) - min(at)) AS seconds
       FROM r`,
    [ids],
  );
  const { done, after_first: afterFirst, seconds } = rows[0]!;
  return { done, perSecond: round(Number(afterFirst) / Number(seconds), 1) };
}

/**
 * Until every scan is AI_ANALYZED. In process, by the worker's signal after each commit (polling
 * PGlite would share its one thread with the work being measured), then checked once; across
 * processes, by polling the server.
 */
async function waitAnalysed(ctx: AppContext, ids: string[], signalled?: Set<string>): Promise<void> {
  const deadline = Date.now() + 600_000;
  if (signalled) {
    while (ids.some((id) => !signalled.has(id))) {
      if (Date.now() > deadline) throw new Error('the queue did not drain in 10 minutes');
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  for (;;) {
    const { rows } = await ctx.db.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM scans WHERE id = ANY($1::uuid[]) AND status = 'AI_ANALYZED'`,
      [ids],
    );
    if (Number(rows[0]!.n) === ids.length) return;
    if (Date.now() > deadline) throw new Error('the queue did not drain in 10 minutes');
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Worker slots in this process (AI_CONCURRENCY), on PGlite or PostgreSQL. */
async function sustainedInProcess(kind: Kind, slots: number, databaseUrl?: string) {
  const dataDir = mkdtempSync(join(tmpdir(), 'scanflow-bench-queue-'));
  const extra: Record<string, string> = { AI_CONCURRENCY: String(slots) };
  if (databaseUrl) extra.DATABASE_URL = databaseUrl;
  const ctx = await createContext(loadConfig(env(dataDir, extra)));
  try {
    const { orgId, ids } = await fillQueue(ctx, await kind.file(), SCANS);
    const signalled = new Set<string>();
    // CPU time of all this process's threads (main, decode threads) per scan, over the rate's
    // window: from the first commit of results to the last, so that loading the model and
    // starting the threads are not counted, nor the first commit's scans. A commit's signals
    // come in one go; the mark is taken after them.
    let first: { cpu: NodeJS.CpuUsage; done: number } | undefined;
    let last: { cpu: NodeJS.CpuUsage; done: number } | undefined;
    const onAnalysed = ({ scanId }: { scanId: string }) => {
      signalled.add(scanId);
      queueMicrotask(() => {
        last = { cpu: process.cpuUsage(), done: signalled.size };
        first ??= last;
      });
    };
    ctx.signals.on('scan-analysed', onAnalysed);
    const work = await startBackgroundWork(ctx, silent, { orgIds: [orgId] });
    await waitAnalysed(ctx, ids, signalled);
    ctx.signals.off('scan-analysed', onAnalysed);
    await work.stop();
    const cpuMs = (last!.cpu.user + last!.cpu.system - first!.cpu.user - first!.cpu.system) / 1000;
    return {
      slots,
      ...(await rateOf(ctx, ids)),
      cpuMsPerScan: round(cpuMs / (last!.done - first!.done), 1),
      stagesMs: await stageMedians(ctx, ids),
    };
  } finally {
    await ctx.db.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

/** `scanflow worker` processes sharing one PostgreSQL database, one slot each. */
async function sustainedProcesses(kind: Kind, processes: number, databaseUrl: string) {
  const dataDir = mkdtempSync(join(tmpdir(), 'scanflow-bench-procs-'));
  const settings = env(dataDir, { DATABASE_URL: databaseUrl, AI_CONCURRENCY: '1' });
  const ctx = await createContext(loadConfig(settings));
  const children: ChildProcess[] = [];
  try {
    const { ids } = await fillQueue(ctx, await kind.file(), SCANS);
    for (let i = 0; i < processes; i++) {
      children.push(spawn('node', [BIN, 'worker'], { env: { ...process.env, ...settings }, stdio: 'ignore' }));
    }
    await waitAnalysed(ctx, ids);
    return { processes, ...(await rateOf(ctx, ids)), stagesMs: await stageMedians(ctx, ids) };
  } finally {
    for (const child of children) child.kill('SIGTERM');
    await Promise.all(children.map((c) => new Promise((r) => (c.exitCode !== null ? r(null) : c.once('exit', r)))));
    await ctx.db.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

/** Pre- and post-processing against the model's own run (issue 4's target: the first under the second). */
function aroundTheModel(stages: Record<string, number>): string {
  const around = round((stages.preprocess ?? NaN) + (stages.explain ?? NaN), 1);
  return `${around} vs ${stages.infer}`;
}

export async function run(): Promise<{ table: string; json: unknown }> {
  const load = { cpus: cpus().length, loadAverageAtStart: loadavg().map((l) => round(l, 2)) };
  const results: Record<string, unknown> = {};
  const lines = [
    `Machine: ${load.cpus} cores, load average at start ${load.loadAverageAtStart.join(' / ')} (other work shares these cores).`,
    '',
    '| image | time-to-triage p50 / p99 ms (from upload start p50) | stage medians ms: read · decode · preprocess · infer · explain | heatmap overlay on request p50 ms |',
    '| --- | --- | --- | --- |',
  ];
  const triage: Record<string, Awaited<ReturnType<typeof timeToTriage>>> = {};
  for (const kind of KINDS) {
    process.stderr.write(`[ai-throughput] time-to-triage ${kind.name}…\n`);
    const t = (triage[kind.name] = await timeToTriage(kind));
    lines.push(
      `| ${kind.name} | ${t.p50ms} / ${t.p99ms} (${t.fromUploadStartP50ms}) | ${STAGES.map((s) => t.stagesMs[s]).join(' · ')} | ${t.overlayOnRequestP50ms} |`,
    );
  }
  results.timeToTriage = triage;

  const postgres = await freshPostgres(PG_URL);
  const sustained: Record<string, unknown[]> = {};
  lines.push(
    '',
    `| sustained, queue of ${SCANS} | database | workers | scans/s | median ms: preprocess + explain vs infer |`,
    '| --- | --- | --- | --- | --- |',
  );
  for (const kind of KINDS) {
    const rows: unknown[] = (sustained[kind.name] = []);
    for (const slots of [1, 2, 4]) {
      process.stderr.write(`[ai-throughput] ${kind.name}: ${slots} slot(s) in one process (PGlite)…\n`);
      const r = await sustainedInProcess(kind, slots);
      rows.push({ database: 'pglite', ...r });
      lines.push(
        `| ${kind.name} | PGlite | ${slots} slot(s), 1 process | ${r.perSecond} (CPU ${r.cpuMsPerScan} ms a scan) | ${aroundTheModel(r.stagesMs)} |`,
      );
    }
    if (postgres) {
      for (const processes of [1, 2, 3]) {
        process.stderr.write(`[ai-throughput] ${kind.name}: ${processes} worker process(es) (PostgreSQL)…\n`);
        const r = await sustainedProcesses(kind, processes, PG_URL);
        rows.push({ database: 'postgres', ...r });
        lines.push(
          `| ${kind.name} | PostgreSQL | ${processes} process(es), 1 slot each | ${r.perSecond} | ${aroundTheModel(r.stagesMs)} |`,
        );
      }
    }
  }
  results.sustained = sustained;
  results.machine = { ...load, loadAverageAtEnd: loadavg().map((l) => round(l, 2)) };
  lines.push(
    '',
    `Load average at the end: ${(results.machine as { loadAverageAtEnd: number[] }).loadAverageAtEnd.join(' / ')}.`,
  );
  return { table: lines.join('\n'), json: results };
}
