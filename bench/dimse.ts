/**
 * DIMSE ingest rate (issue 3, "Measured"): the same BENCH_DIMSE_INSTANCES (default 1,000) synthetic
 * 512 × 512 16-bit DICOM instances sent by DCMTK's storescu (TCP_NODELAY=1, one association) to
 * Scanflow's listener — a `scanflow serve` child process, on PGlite and, when reachable, on
 * PostgreSQL — and to an Orthanc on this machine, in the same run. Scanflow's time includes what
 * every ingest does: probing, SHA-256, AES-256-GCM sealing, the scans row, timeline, AI job and
 * audit event in one transaction. The AI worker is off (as in the foundation benchmark) so that
 * the pre-reads do not compete for the cores; their jobs are queued all the same.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freshPostgres } from './postgres.ts';
import { loadConfig } from '../packages/server/src/config.ts';
import { createContext } from '../packages/server/src/context.ts';
import { withScope } from '../packages/server/src/db/scope.ts';
import { insertPeer } from '../packages/server/src/repositories/dicom-peers.ts';
import { UserService } from '../packages/server/src/services/user-service.ts';
import { dicomBytes } from '../packages/server/test/fixtures.ts';
import { freePort, startOrthanc } from '../packages/server/test/orthanc.ts';
import { round } from './stats.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const BIN = join(ROOT, 'packages/server/bin/scanflow.js');
const INSTANCES = Number(process.env.BENCH_DIMSE_INSTANCES ?? 1000);
const PG_URL = process.env.BENCH_DIMSE_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/scanflow_bench_dimse';
const CALLING_AE = 'BENCHSCU';

interface Rate {
  target: string;
  instances: number;
  seconds: number;
  instancesPerSecond: number;
}

/** storescu over one association, timed from start to exit; every instance must be stored. */
async function send(port: number, calledAe: string, files: string[]): Promise<number> {
  const started = performance.now();
  await new Promise<void>((resolve, reject) => {
    execFile(
      'storescu',
      ['-aet', CALLING_AE, '-aec', calledAe, '127.0.0.1', String(port), ...files],
      { env: { ...process.env, TCP_NODELAY: '1' }, maxBuffer: 64 * 1024 * 1024, timeout: 600_000 },
      (error, _stdout, stderr) => (error ? reject(new Error(`storescu failed: ${stderr.slice(-2000)}`)) : resolve()),
    );
  });
  return (performance.now() - started) / 1000;
}

function echo(port: number, calledAe: string): Promise<boolean> {
  return new Promise((resolve) =>
    execFile('echoscu', ['-aet', CALLING_AE, '-aec', calledAe, '127.0.0.1', String(port)], (error) => resolve(!error)),
  );
}

/** An organisation that accepts the benchmark's calling AE title; returns the scans it then holds. */
async function prepareScanflow(env: Record<string, string>): Promise<() => Promise<number>> {
  const ctx = await createContext(loadConfig(env));
  const { orgId } = await new UserService(ctx).createAsOperator({
    organisation: 'bench-dimse',
    email: 'bench-dimse-admin@example.test',
    name: 'Bench Admin',
    role: 'admin',
    password: `bench-${randomBytes(8).toString('hex')}`,
  });
  await withScope(ctx.db, { orgId, userId: null, dbRole: 'system' }, (tx) =>
    insertPeer(tx, { orgId, aeTitle: CALLING_AE, addresses: [], description: 'benchmark', createdBy: null }),
  );
  await ctx.db.close();
  return async () => {
    const after = await createContext(loadConfig(env));
    try {
      const { rows } = await after.db.query<{ n: number }>('SELECT count(*)::int AS n FROM scans');
      return Number(rows[0]!.n);
    } finally {
      await after.db.close();
    }
  };
}

async function measureScanflow(database: 'pglite' | 'postgres', files: string[]): Promise<Rate> {
  const dataDir = mkdtempSync(join(tmpdir(), `scanflow-bench-dimse-${database}-`));
  const dicomPort = await freePort();
  const env: Record<string, string> = {
    DATA_DIR: dataDir,
    SCANFLOW_MASTER_KEY: randomBytes(32).toString('hex'),
    LOG_LEVEL: 'silent',
    SEED_DEMO: 'false',
    RUN_WORKER: 'false',
    PORT: String(await freePort()),
    DICOM_PORT: String(dicomPort),
    DICOM_AE_TITLE: 'SCANFLOW',
    ...(database === 'postgres' ? { DATABASE_URL: PG_URL } : {}),
  };
  const countScans = await prepareScanflow(env);
  const server: ChildProcess = spawn('node', [BIN, 'serve'], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  try {
    let ready = false;
    for (let i = 0; i < 240 && !ready; i++) {
      await new Promise((r) => setTimeout(r, 250));
      ready = await echo(dicomPort, 'SCANFLOW');
    }
    if (!ready) throw new Error('Scanflow DICOM listener did not answer C-ECHO');
    process.stderr.write(`[dimse] storescu → Scanflow (${database}), ${files.length} instances…\n`);
    const seconds = await send(dicomPort, 'SCANFLOW', files);
    server.kill('SIGTERM');
    await new Promise((r) => server.once('exit', r));
    const stored = await countScans();
    if (stored !== files.length) throw new Error(`Scanflow (${database}) holds ${stored} scans, not ${files.length}`);
    return rate(`Scanflow (${database})`, files.length, seconds);
  } finally {
    if (server.exitCode === null) server.kill('SIGKILL');
    rmSync(dataDir, { recursive: true, force: true });
  }
}

async function measureOrthanc(files: string[]): Promise<Rate> {
  const orthanc = await startOrthanc({ aeTitle: 'ORTHANC' });
  try {
    process.stderr.write(`[dimse] storescu → Orthanc, ${files.length} instances…\n`);
    const seconds = await send(orthanc.dicomPort, 'ORTHANC', files);
    const stats = (await orthanc.rest('GET', '/statistics')) as { CountInstances: number };
    if (stats.CountInstances !== files.length) {
      throw new Error(`Orthanc holds ${stats.CountInstances} instances, not ${files.length}`);
    }
    const version = ((await orthanc.rest('GET', '/system')) as { Version: string }).Version;
    return rate(`Orthanc ${version}`, files.length, seconds);
  } finally {
    await orthanc.stop();
  }
}

const rate = (target: string, instances: number, seconds: number): Rate => ({
  target,
  instances,
  seconds: round(seconds, 2),
  instancesPerSecond: round(instances / seconds, 1),
});

export async function run(): Promise<{ table: string; json: unknown }> {
  const dir = mkdtempSync(join(tmpdir(), 'scanflow-bench-dimse-files-'));
  try {
    process.stderr.write(`[dimse] writing ${INSTANCES} DICOM instances (512 × 512, 16-bit)…\n`);
    for (let i = 0; i < INSTANCES; i++) {
      const bytes = dicomBytes({ rows: 512, columns: 512, patientId: `BENCH-${i % 50}` });
      writeFileSync(join(dir, `${String(i).padStart(5, '0')}.dcm`), bytes);
    }
    const files = readdirSync(dir)
      .sort()
      .map((f) => join(dir, f));
    for (const file of files) readFileSync(file); // into the page cache, for every target alike

    const rates: Rate[] = [await measureOrthanc(files), await measureScanflow('pglite', files)];
    if (await freshPostgres(PG_URL)) rates.push(await measureScanflow('postgres', files));
    else process.stderr.write(`[dimse] PostgreSQL not reachable at ${PG_URL}; skipped\n`);

    const orthanc = rates[0]!;
    const rows = rates.map(
      (r) =>
        `| ${r.target} | ${r.instances} | ${r.seconds} | ${r.instancesPerSecond} | ${round(r.instancesPerSecond / orthanc.instancesPerSecond, 2)} |`,
    );
    const table = [
      '| storescu (TCP_NODELAY=1) → | instances | seconds | instances/s | × Orthanc |',
      '| --- | --- | --- | --- | --- |',
      ...rows,
    ].join('\n');
    return { table, json: { instanceBytes: readFileSync(files[0]!).length, rates } };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
