/**
 * Live-update fan-out (issue 7, "Measured"): BENCH_LIVE_CLIENTS (default 500) WebSocket clients
 * — ten doctors, fifty connections each — hold GET /api/v1/live on a `scanflow serve` child
 * process (PGlite, and PostgreSQL when reachable, where events travel by NOTIFY). A doctor verifies
 * cases over HTTP; we time from sending each transition to its scan.status event arriving at every
 * client (so it includes the HTTP request, the commit, the notification, the policy filter per
 * connection and the client side of this process). Then a burst of concurrent transitions measures
 * events per second and deliveries per second, checking that every client got every event.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import { loadConfig } from '../packages/server/src/config.ts';
import { createContext } from '../packages/server/src/context.ts';
import { UserService } from '../packages/server/src/services/user-service.ts';
import { freshPostgres } from './postgres.ts';
import { percentile, round } from './stats.ts';

const BIN = join(fileURLToPath(new URL('..', import.meta.url)), 'packages/server/bin/scanflow.js');
const CLIENTS = Number(process.env.BENCH_LIVE_CLIENTS ?? 500);
const DOCTORS = 10;
const CHANGES = Number(process.env.BENCH_LIVE_CHANGES ?? 100);
const BURST_SECONDS = Number(process.env.BENCH_LIVE_BURST_SECONDS ?? 5);
const WARM_UP = 5;
const SCANS = WARM_UP + CHANGES + 3000;
const SCAN_ID = /"scanId":"([0-9a-f-]{36})"/;
const PG_URL = process.env.BENCH_LIVE_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/scanflow_bench_live';

interface Measured {
  database: 'pglite' | 'postgres';
  clients: number;
  changes: number;
  p50ms: number;
  p99ms: number;
  maxms: number;
  transitionP50ms: number;
  /** First to last client's arrival of one event: the fan-out itself. */
  spreadP50ms: number;
  spreadP99ms: number;
  burst: { events: number; eventsPerSecond: number; deliveriesPerSecond: number; missing: number };
}

/** Ten verified doctors and SCANS analysed cases waiting for them, written directly (we measure the channel). */
async function seed(
  env: Record<string, string>,
): Promise<{ doctors: { email: string; password: string }[]; scanIds: string[] }> {
  const ctx = await createContext(loadConfig(env));
  const users = new UserService(ctx);
  const doctors: { email: string; password: string }[] = [];
  let orgId = '';
  for (let i = 0; i < DOCTORS; i++) {
    const account = { email: `live-doctor-${i}@example.test`, password: `bench-${randomBytes(8).toString('hex')}` };
    const created = await users.createAsOperator({
      organisation: 'bench-live',
      name: `Doctor ${i}`,
      role: 'doctor',
      ...account,
    });
    orgId = created.orgId;
    doctors.push(account);
  }
  const { rows } = await ctx.db.query<{ id: string }>(
    `INSERT INTO patients (org_id, name_enc) VALUES ($1, $2) RETURNING id`,
    [orgId, ctx.cipher.encrypt('Synthetic Patient')],
  );
  const scans = await ctx.db.query<{ id: string }>(
    `INSERT INTO scans (org_id, patient_id, source, status, priority, priority_rank, blob_sha256, byte_size, media_type,
                        format, width, height)
     SELECT $1, $2, 'upload', 'AI_ANALYZED', 'ROUTINE', 1, encode(sha256(('live' || g)::bytea), 'hex'), 1000,
            'image/png', 'png', 64, 64
       FROM generate_series(1, $3::int) g RETURNING id`,
    [orgId, rows[0]!.id, SCANS],
  );
  await ctx.db.close();
  return { doctors, scanIds: scans.rows.map((r) => r.id) };
}

async function serve(env: Record<string, string>, port: number): Promise<ChildProcess> {
  const child = spawn('node', [BIN, 'serve'], { env: { ...process.env, ...env, PORT: String(port) }, stdio: 'ignore' });
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 250));
    if (
      await fetch(`http://127.0.0.1:${port}/readyz`).then(
        (r) => r.ok,
        () => false,
      )
    )
      return child;
  }
  child.kill();
  throw new Error('server did not become ready');
}

/** One connection; `seen` gets each scan.status event's arrival time, keyed by scan. */
function connect(url: string, token: string, seen: (scanId: string, at: number) => void): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url);
    socket.once('error', reject);
    socket.once('open', () => socket.send(JSON.stringify({ type: 'auth', token })));
    // 500 clients share this process: read only what is needed (no JSON.parse per message), so
    // that the load generator's own work delays the arrivals it measures as little as possible.
    socket.on('message', (data) => {
      const at = performance.now();
      const text = (data as Buffer).toString('latin1');
      if (text.startsWith('{"type":"ready"')) resolve(socket);
      else if (text.includes('"kind":"scan.status"')) seen(SCAN_ID.exec(text)![1]!, at);
    });
  });
}

async function measure(database: 'pglite' | 'postgres', port: number): Promise<Measured> {
  const dataDir = mkdtempSync(join(tmpdir(), `scanflow-bench-live-${database}-`));
  const env: Record<string, string> = {
    DATA_DIR: dataDir,
    SCANFLOW_MASTER_KEY: randomBytes(32).toString('hex'),
    LOG_LEVEL: 'silent',
    SEED_DEMO: 'false',
    AUTH_RATE_LIMIT_PER_MINUTE: '100000',
    RUN_WORKER: 'false',
    ...(database === 'postgres' ? { DATABASE_URL: PG_URL } : {}),
  };
  const { doctors, scanIds } = await seed(env);
  const server = await serve(env, port);
  const base = `http://127.0.0.1:${port}/api/v1`;
  const sockets: WebSocket[] = [];
  try {
    const tokens = await Promise.all(
      doctors.map(async (d) => {
        const res = await fetch(`${base}/auth/login`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(d),
        });
        return ((await res.json()) as { accessToken: string }).accessToken;
      }),
    );
    const arrivals = new Map<string, number[]>();
    const seen = (scanId: string, at: number) => {
      const list = arrivals.get(scanId) ?? [];
      list.push(at);
      arrivals.set(scanId, list);
    };
    for (let i = 0; i < CLIENTS; i += 50) {
      sockets.push(
        ...(await Promise.all(
          Array.from({ length: Math.min(50, CLIENTS - i) }, (_, k) =>
            connect(`ws://127.0.0.1:${port}/api/v1/live`, tokens[(i + k) % DOCTORS]!, seen),
          ),
        )),
      );
    }
    let queue = scanIds;
    const verify = async (scanId: string): Promise<number> => {
      const started = performance.now();
      const res = await fetch(`${base}/scans/${scanId}/transitions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${tokens[0]}` },
        body: JSON.stringify({ action: 'verify', version: 1, findings: 'Benchmark findings' }),
      });
      if (res.status !== 200) throw new Error(`transition ${res.status}: ${await res.text()}`);
      return performance.now() - started;
    };
    const allArrived = async (scanId: string) => {
      const deadline = performance.now() + 10_000;
      while ((arrivals.get(scanId)?.length ?? 0) < CLIENTS && performance.now() < deadline) {
        await new Promise((r) => setTimeout(r, 2));
      }
    };

    // Warm-up (not measured): the first events also pay for compiling the paths they take.
    for (const scanId of queue.splice(0, WARM_UP)) {
      await verify(scanId);
      await allArrived(scanId);
    }

    // Latency: one change at a time, each awaited at every client.
    const latencies: number[] = [];
    const transitions: number[] = [];
    const spreads: number[] = [];
    for (const scanId of queue.slice(0, CHANGES)) {
      const sent = performance.now();
      transitions.push(await verify(scanId));
      await allArrived(scanId);
      const arrived = arrivals.get(scanId) ?? [];
      for (const at of arrived) latencies.push(at - sent);
      if (arrived.length > 0) spreads.push(Math.max(...arrived) - Math.min(...arrived));
      latencies.push(...Array(CLIENTS - (arrivals.get(scanId)?.length ?? 0)).fill(Infinity));
    }
    queue = queue.slice(CHANGES);
    latencies.sort((a, b) => a - b);
    transitions.sort((a, b) => a - b);
    spreads.sort((a, b) => a - b);

    // Burst: eight doctors' worth of concurrent transitions for BURST_SECONDS.
    const burstScans: string[] = [];
    const started = performance.now();
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        while (performance.now() - started < BURST_SECONDS * 1000 && queue.length > 0) {
          const scanId = queue.shift()!;
          await verify(scanId);
          burstScans.push(scanId);
        }
      }),
    );
    await Promise.all(burstScans.map(allArrived));
    // A loop, not Math.max(...all): a burst to 500 clients is more arrivals than the stack holds arguments.
    let lastArrival = started;
    for (const id of burstScans) for (const at of arrivals.get(id) ?? []) lastArrival = Math.max(lastArrival, at);
    const seconds = (lastArrival - started) / 1000;
    const delivered = burstScans.reduce((n, id) => n + (arrivals.get(id)?.length ?? 0), 0);
    return {
      database,
      clients: CLIENTS,
      changes: CHANGES,
      p50ms: round(percentile(latencies, 50)),
      p99ms: round(percentile(latencies, 99)),
      maxms: round(latencies.at(-1)!),
      transitionP50ms: round(percentile(transitions, 50)),
      spreadP50ms: round(percentile(spreads, 50)),
      spreadP99ms: round(percentile(spreads, 99)),
      burst: {
        events: burstScans.length,
        eventsPerSecond: round(burstScans.length / seconds),
        deliveriesPerSecond: Math.round(delivered / seconds),
        missing: burstScans.length * CLIENTS - delivered,
      },
    };
  } finally {
    sockets.forEach((s) => s.terminate());
    server.kill();
    await new Promise((r) => server.once('exit', r));
    rmSync(dataDir, { recursive: true, force: true });
  }
}

export async function run(): Promise<{ table: string; json: unknown }> {
  // This machine is shared: its load says how far these numbers are from an idle one's.
  const machine = { cpus: cpus().length, loadAverageAtStart: loadavg().map((l) => round(l, 2)) };
  const results = [await measure('pglite', 18_090)];
  if (await freshPostgres(PG_URL)) results.push(await measure('postgres', 18_091));
  else process.stderr.write(`[live] PostgreSQL not reachable at ${PG_URL}; skipped\n`);
  const lines = [
    `| live fan-out (${CLIENTS} WebSocket clients) | status change → every client p50 ms | p99 ms | max ms | transition (HTTP) p50 ms | fan-out spread p50 / p99 ms | burst events/s | deliveries/s | missing |`,
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ...results.map(
      (r) =>
        `| ${r.database} | ${r.p50ms} | ${r.p99ms} | ${r.maxms} | ${r.transitionP50ms} | ${r.spreadP50ms} / ${r.spreadP99ms} | ${r.burst.eventsPerSecond} | ${r.burst.deliveriesPerSecond} | ${r.burst.missing} |`,
    ),
  ];
  lines.push('', `(${machine.cpus} CPUs, load average ${machine.loadAverageAtStart.join(' / ')} at the start)`);
  return { table: lines.join('\n'), json: { machine, results } };
}
