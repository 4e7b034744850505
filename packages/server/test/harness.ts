/**
 * Integration-test harness: the real app on a real database. PGlite in memory by default, or the
 * PostgreSQL server named by TEST_DATABASE_URL. Tests never truncate: each creates its own
 * organisation with random names, so they can share one database and run in any order.
 */
import { spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Role } from '@scanflow/domain';
import { loadConfig, type Config } from '../src/config.ts';
import { createContext, type AppContext } from '../src/context.ts';
import { openDatabase } from '../src/db/database.ts';
import { buildApp, type App } from '../src/http/app.ts';
import { currentTotp } from '../src/auth/totp.ts';
import { UserService } from '../src/services/user-service.ts';
import { withSystem } from '../src/db/scope.ts';

export interface TestApp {
  app: App;
  ctx: AppContext;
  dataDir: string;
  close(): Promise<void>;
}

export async function startTestApp(env: Record<string, string> = {}): Promise<TestApp> {
  const dataDir = mkdtempSync(join(tmpdir(), 'scanflow-test-'));
  const config: Config = loadConfig({
    DATA_DIR: dataDir,
    SCANFLOW_MASTER_KEY: randomBytes(32).toString('hex'),
    LOG_LEVEL: 'silent',
    SEED_DEMO: 'false',
    AUTH_RATE_LIMIT_PER_MINUTE: '100000',
    ...env,
  });
  const url = process.env.TEST_DATABASE_URL;
  const db = await openDatabase({ url, poolSize: 10 });
  const ctx = await createContext(config, { db });
  const app = await buildApp(ctx, { logger: false });
  await app.ready();
  return {
    app,
    ctx,
    dataDir,
    async close() {
      await app.close();
      await db.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export const uniqueSlug = (prefix = 'org') => `${prefix}-${randomUUID().slice(0, 8)}`;
export const uniqueEmail = (role: string) => `${role}-${randomUUID().slice(0, 8)}@example.test`;

export interface TestUser {
  id: string;
  orgId: string;
  email: string;
  password: string;
  role: Role;
  totpSecret: string | null;
  patientId: string | null;
  /** An access token for a fully signed-in session (admins: with TOTP). */
  token: string;
  refreshToken: string;
}

/** Creates a user as an operator would (clinicians verified, admins with TOTP) and signs in. */
export async function createUser(t: TestApp, org: string, role: Role): Promise<TestUser> {
  const email = uniqueEmail(role);
  const password = `pw-${randomUUID()}`;
  const created = await new UserService(t.ctx).createAsOperator({
    organisation: org,
    email,
    name: `Test ${role} Ünïcødé`,
    role,
    password,
    dateOfBirth: role === 'patient' ? '1975-01-31' : undefined,
  });
  const session = await signIn(t, email, password, created.totpSecret);
  const patient = await withSystem(t.ctx.db, (tx) =>
    tx.query<{ id: string }>('SELECT id FROM patients WHERE user_id = $1', [created.userId]),
  );
  return {
    id: created.userId,
    orgId: created.orgId,
    email,
    password,
    role,
    totpSecret: created.totpSecret,
    patientId: patient.rows[0]?.id ?? null,
    ...session,
  };
}

export async function signIn(
  t: TestApp,
  email: string,
  password: string,
  totpSecret: string | null,
): Promise<{ token: string; refreshToken: string }> {
  const login = await t.app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { email, password } });
  if (login.statusCode !== 200) throw new Error(`login failed: ${login.statusCode} ${login.body}`);
  let body = login.json();
  if (body.status === 'second_factor_required') {
    if (!totpSecret) throw new Error('second factor required but no secret');
    const verify = await t.app.inject({
      method: 'POST',
      url: '/api/v1/auth/totp/verify',
      payload: { challenge: body.challenge, code: await currentTotp(totpSecret) },
    });
    if (verify.statusCode !== 200) throw new Error(`totp failed: ${verify.statusCode} ${verify.body}`);
    body = verify.json();
  }
  return { token: body.accessToken, refreshToken: body.refreshToken };
}

export const bearer = (user: { token: string }) => ({ authorization: `Bearer ${user.token}` });

/** A multipart body with the given files (and fields), for app.inject. */
export function multipart(
  files: { name: string; bytes: Buffer; type?: string }[],
  fields: Record<string, string> = {},
): { payload: Buffer; headers: Record<string, string> } {
  const boundary = `----scanflow${randomUUID()}`;
  const chunks: Buffer[] = [];
  for (const [key, value] of Object.entries(fields)) {
    chunks.push(Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${key}"\r\n\r\n${value}\r\n`));
  }
  for (const file of files) {
    chunks.push(
      Buffer.from(
        `--${boundary}\r\nContent-Disposition: form-data; name="files"; filename="${file.name}"\r\n` +
          `Content-Type: ${file.type ?? 'application/octet-stream'}\r\n\r\n`,
      ),
      file.bytes,
      Buffer.from('\r\n'),
    );
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return { payload: Buffer.concat(chunks), headers: { 'content-type': `multipart/form-data; boundary=${boundary}` } };
}

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const BIN = join(ROOT, 'packages/server/bin/scanflow.js');

/** Runs the `scanflow` command as a user would (a new Node process in the repository root). */
export function runScanflow(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, env: { ...process.env, ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** Where the local store keeps a blob's envelope. */
export function blobPath(t: Pick<TestApp, 'dataDir'>, sha256: string): string {
  return join(t.dataDir, 'blobs', sha256.slice(0, 2), sha256.slice(2, 4), sha256);
}

/**
 * Alters one stored blob on disk as someone with access to the storage would: the byte `fromEnd`
 * bytes before the end of its envelope, XORed with `mask` (the last byte, all bits, by default).
 */
export function tamperBlob(
  t: Pick<TestApp, 'dataDir'>,
  sha256: string,
  { fromEnd = 1, mask = 0xff }: { fromEnd?: number; mask?: number } = {},
): void {
  const path = blobPath(t, sha256);
  const envelope = readFileSync(path);
  envelope[envelope.length - fromEnd]! ^= mask;
  writeFileSync(path, envelope);
}
