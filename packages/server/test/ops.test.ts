/** Operations: health, readiness, metrics, the OpenAPI document, migrations, configuration, the CLI. */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../src/config.ts';
import { openDatabase } from '../src/db/database.ts';
import { loadMigrations, migrate, SchemaTooNewError } from '../src/db/migrate.ts';
import { startTestApp, type TestApp } from './harness.ts';

const run = promisify(execFile);
const BIN = fileURLToPath(new URL('../bin/scanflow.js', import.meta.url));

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp();
});
afterAll(async () => t?.close());

describe('operations endpoints', () => {
  it('answers health, readiness and Prometheus metrics', async () => {
    expect((await t.app.inject('/healthz')).json()).toEqual({ status: 'ok' });
    const ready = await t.app.inject('/readyz');
    expect(ready.statusCode).toBe(200);
    expect(ready.json().schemaVersion).toBe(loadMigrations().at(-1)!.version);
    await t.app.inject('/api/v1/scans');
    const metrics = await t.app.inject('/metrics');
    expect(metrics.body).toContain('scanflow_http_requests_total');
    expect(metrics.body).toContain('route="/api/v1/scans",method="GET",status="401"');
  });

  it('publishes an OpenAPI document generated from the route schemas, and browsable docs', async () => {
    const doc = (await t.app.inject('/api/openapi.json')).json();
    expect(doc.openapi).toMatch(/^3\./);
    for (const path of [
      '/api/v1/auth/login',
      '/api/v1/auth/register',
      '/api/v1/auth/totp/verify',
      '/api/v1/auth/refresh',
      '/api/v1/auth/logout',
      '/api/v1/scans/',
      '/api/v1/scans/{id}',
      '/api/v1/scans/{id}/image',
      '/api/v1/scans/{id}/transitions',
      '/api/v1/audit',
    ]) {
      expect(Object.keys(doc.paths), path).toContain(path);
    }
    const docs = await t.app.inject('/api/docs/');
    expect(docs.statusCode).toBe(200);
    expect(docs.body).toContain('swagger');
  });

  it('answers unknown routes and malformed bodies with the one error shape, never a stack', async () => {
    const missing = await t.app.inject('/api/v1/nothing-here');
    expect(missing.statusCode).toBe(404);
    expect(missing.json().error.code).toBe('not_found');
    const badJson = await t.app.inject({
      method: 'POST',
      url: '/api/v1/auth/login',
      payload: '{"email":',
      headers: { 'content-type': 'application/json' },
    });
    expect(badJson.statusCode).toBe(400);
    expect(badJson.body).not.toMatch(/at .*\.ts:\d+/);
  });
});

describe('migrations', () => {
  it('are versioned and idempotent, and a newer database is refused with a clear message', async () => {
    const db = await openDatabase({});
    try {
      expect(await migrate(db)).toEqual(loadMigrations().map((m) => m.version));
      expect(await migrate(db)).toEqual([]);
      await db.query(`INSERT INTO schema_migrations (version, name) VALUES (9999, 'from_the_future')`);
      const error = await migrate(db).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(SchemaTooNewError);
      expect((error as Error).message).toMatch(/version 9999.*newer Scanflow/);
    } finally {
      await db.close();
    }
  });
});

describe('configuration', () => {
  it('lists every problem in plain words', () => {
    try {
      loadConfig({ PORT: 'eighty', DATABASE_URL: 'mysql://x', SCANFLOW_MASTER_KEY: 'short', LOG_LEVEL: 'loud' });
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      const problems = (error as ConfigError).problems;
      expect(problems).toHaveLength(4);
      expect(problems.join('\n')).toMatch(/PORT must be a whole number/);
    }
    expect(() => loadConfig({ ACCESS_TOKEN_TTL_SECONDS: '3600' })).toThrow(/ACCESS_TOKEN_TTL_SECONDS/);
  });
});

describe('the scanflow CLI', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'scanflow-cli-'));
  const env = { ...process.env, DATA_DIR: dataDir, LOG_LEVEL: 'silent' };
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  it('migrates, creates users, resets a second factor, and fails clearly on bad input', async () => {
    const migrated = await run('node', [BIN, 'migrate'], { env });
    expect(migrated.stdout).toMatch(/applied migrations 1/);
    // The generated master key file is private to its owner.
    expect(statSync(join(dataDir, 'keys', 'master.key')).mode & 0o777).toBe(0o600);
    expect((await run('node', [BIN, 'migrate', '--status'], { env })).stdout).toMatch(/pending: none/);

    const created = await run(
      'node',
      [BIN, 'user', 'create', '--role', 'admin', '--email', 'ops@example.test', '--name', 'Ops Admin'],
      { env },
    );
    expect(created.stdout).toMatch(/created admin ops@example\.test/);
    expect(created.stdout).toMatch(/TOTP: otpauth:\/\/totp\//);
    expect((await run('node', [BIN, 'user', 'reset-2fa', '--email', 'ops@example.test'], { env })).stdout).toMatch(
      /cleared/,
    );

    const failures = [
      [BIN, 'user', 'create', '--role', 'wizard', '--email', 'x@example.test', '--name', 'X'],
      [BIN, 'user', 'reset-2fa', '--email', 'nobody@example.test'],
      [BIN, 'frobnicate'],
      [BIN, 'serve', '--port', 'not-a-port'],
    ];
    for (const args of failures) {
      const error = (await run('node', args, { env }).catch((e: unknown) => e)) as { code: number; stderr: string };
      expect(error.code, args.join(' ')).toBeGreaterThan(0);
      expect(error.stderr).toMatch(/^scanflow: /);
      expect(error.stderr).not.toMatch(/\n\s+at /);
    }
  }, 120_000);
});
