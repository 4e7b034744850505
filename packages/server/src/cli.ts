/**
 * The `scanflow` command: serve, migrate, and operator tasks on users. Flags are mapped onto the
 * same environment variables the server reads, so there is one configuration path.
 */
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { AppError, isRole } from '@scanflow/domain';
import { ConfigError, loadConfig } from './config.ts';
import { createContext } from './context.ts';
import { migrate, migrationStatus, SchemaTooNewError } from './db/migrate.ts';
import { buildApp } from './http/app.ts';
import { startBackgroundWork } from './background.ts';
import { startDicomListener } from './dicom/listener.ts';
import { seedDemoIfEmpty, type DemoAccount } from './services/demo-seed.ts';
import { UserService } from './services/user-service.ts';

/**
 * Commands that own their flags live in `cli/<name>.ts`; each exports `run(argv)` and gets the
 * arguments after its name, returning an exit code (or -1 to keep running). Adding a command is
 * adding a module and one entry here.
 */
interface Subcommand {
  /** Lines for the help text. */
  usage: string;
  load: () => Promise<{ run(argv: string[]): Promise<number> }>;
}
const SUBCOMMANDS: Record<string, Subcommand> = {
  report: {
    usage: `  report verify FILE | --code CODE [--url URL]
                             Check a PDF report (or its code) against a server and its tamper-evident log`,
    load: () => import('./cli/report.ts'),
  },
  analyze: {
    usage: `  analyze FILE… [--json] [--model NAME] [--heatmaps DIR]
                             The AI pre-read of image files, without a server: one JSON result per file`,
    load: () => import('./cli/analyze.ts'),
  },
  deidentify: {
    usage: `  deidentify IN… --out DIR [--shift-dates DAYS] [--allow-burned-in] [--uid-secret S]
                             DICOM files de-identified (PS3.15 basic profile), offline: one file each in DIR`,
    load: () => import('./cli/deidentify.ts'),
  },
  ledger: {
    usage: `  ledger verify|export|proof|follow …
                             The tamper-evident log: verify an export or a server, export, proofs, witnessing`,
    load: () => import('./cli/ledger.ts'),
  },
};

const USAGE = `Usage: scanflow <command> [options]

Commands:
  serve                      Run the server (HTTP API, web app)
      --port N --host H --data-dir DIR --database-url URL
  worker                     Run only the background worker (AI pre-reads), no HTTP
  migrate [--status]         Apply database migrations (or show where the schema stands)
  user create --role ROLE --email E --name NAME [--organisation SLUG] [--password P]
                             Create a user (clinicians are verified; admins get a TOTP secret)
  user reset-2fa --email E   Clear a user's authenticator and end their sessions
${Object.values(SUBCOMMANDS)
  .map((c) => c.usage)
  .join('\n')}
  help                       Show this help

Configuration is read from environment variables; see .env.example.`;

class UsageError extends Error {}

function applyFlagsToEnv(values: Record<string, string | boolean | undefined>): void {
  const map: Record<string, string> = {
    port: 'PORT',
    host: 'HOST',
    'data-dir': 'DATA_DIR',
    'database-url': 'DATABASE_URL',
  };
  for (const [flag, env] of Object.entries(map)) {
    const value = values[flag];
    if (typeof value === 'string') process.env[env] = value;
  }
}

function printDemoAccounts(accounts: DemoAccount[]): void {
  // Printed once, to the terminal of whoever started the first run; never logged.
  const lines = [
    '',
    'Scanflow created a demo organisation ("demo") with synthetic data. These credentials are shown only now:',
    ...accounts.map((a) => `  ${a.role.padEnd(10)} ${a.email.padEnd(32)} password: ${a.password}`),
    ...accounts
      .filter((a) => a.otpauthUri)
      .map((a) => `  ${a.role} TOTP (add to an authenticator app): ${a.otpauthUri}`),
    '',
  ];
  process.stdout.write(lines.join('\n') + '\n');
}

async function serve(): Promise<void> {
  const config = loadConfig();
  const ctx = await createContext(config);
  if (config.seedDemo) {
    const accounts = await seedDemoIfEmpty(ctx);
    if (accounts) printDemoAccounts(accounts);
  }
  const app = await buildApp(ctx);
  const background = config.runWorker ? await startBackgroundWork(ctx, app.log) : null;
  // The DICOM listener (C-ECHO, C-STORE) beside HTTP; DICOM_PORT=0 turns it off.
  const dicom = config.dicomPort > 0 ? await startDicomListener(ctx, app.log) : null;
  const shutdown = async (signal: string) => {
    app.log.info({ signal }, 'shutting down');
    await dicom?.close();
    await app.close();
    await background?.stop();
    await ctx.db.close();
    process.exit(0);
  };
  process.once('SIGINT', () => void shutdown('SIGINT'));
  process.once('SIGTERM', () => void shutdown('SIGTERM'));
  await app.listen({ port: config.port, host: config.host });
}

/** The background worker alone (AI pre-reads), for separate worker processes. */
async function work(): Promise<void> {
  const config = loadConfig();
  const ctx = await createContext(config);
  const log = pino({ level: config.logLevel });
  const background = await startBackgroundWork(ctx, log, { pollMs: 500 });
  const shutdown = async () => {
    await background.stop();
    await ctx.db.close();
    process.exit(0);
  };
  process.once('SIGINT', () => void shutdown());
  process.once('SIGTERM', () => void shutdown());
}

async function runMigrate(statusOnly: boolean): Promise<void> {
  const config = loadConfig();
  const ctx = await createContext(config, { migrate: false });
  try {
    if (statusOnly) {
      const status = await migrationStatus(ctx.db);
      process.stdout.write(
        `schema version ${status.current} of ${status.latest}; pending: ${status.pending.join(', ') || 'none'}\n`,
      );
    } else {
      const applied = await migrate(ctx.db);
      process.stdout.write(applied.length ? `applied migrations ${applied.join(', ')}\n` : 'schema is up to date\n');
    }
  } finally {
    await ctx.db.close();
  }
}

async function userCommand(
  sub: string | undefined,
  values: Record<string, string | boolean | undefined>,
): Promise<void> {
  const str = (name: string): string | undefined => {
    const value = values[name];
    return typeof value === 'string' ? value : undefined;
  };
  const ctx = await createContext(loadConfig());
  const users = new UserService(ctx);
  try {
    if (sub === 'create') {
      const role = str('role');
      const email = str('email');
      const name = str('name');
      if (!isRole(role)) throw new UsageError('--role must be patient, doctor, pharmacist or admin');
      if (!email || !name) throw new UsageError('--email and --name are required');
      const password = str('password') ?? randomBytes(12).toString('base64url');
      const created = await users.createAsOperator({
        organisation: str('organisation') ?? 'demo',
        email,
        name,
        role,
        password,
        dateOfBirth: str('date-of-birth'),
      });
      process.stdout.write(`created ${role} ${email} (id ${created.userId})\n`);
      if (!str('password')) process.stdout.write(`password: ${password}\n`);
      if (created.otpauthUri) process.stdout.write(`TOTP: ${created.otpauthUri}\n`);
    } else if (sub === 'reset-2fa') {
      const email = str('email');
      if (!email) throw new UsageError('--email is required');
      await users.resetSecondFactorAsOperator(email);
      process.stdout.write(`second factor cleared for ${email}; their sessions have ended\n`);
    } else {
      throw new UsageError(`unknown user command "${sub ?? ''}"`);
    }
  } finally {
    await ctx.db.close();
  }
}

export async function main(argv: string[]): Promise<number> {
  const subcommand = argv[0] ? SUBCOMMANDS[argv[0]] : undefined;
  if (subcommand) {
    try {
      return await (await subcommand.load()).run(argv.slice(1));
    } catch (error) {
      process.stderr.write(`scanflow: ${(error as Error).message ?? String(error)}\n`);
      return 1;
    }
  }
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        port: { type: 'string' },
        host: { type: 'string' },
        'data-dir': { type: 'string' },
        'database-url': { type: 'string' },
        status: { type: 'boolean' },
        role: { type: 'string' },
        email: { type: 'string' },
        name: { type: 'string' },
        organisation: { type: 'string' },
        password: { type: 'string' },
        'date-of-birth': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (error) {
    process.stderr.write(`scanflow: ${(error as Error).message}\n\n${USAGE}\n`);
    return 2;
  }
  const [command, sub] = parsed.positionals;
  applyFlagsToEnv(parsed.values);
  try {
    switch (command) {
      case 'serve':
        await serve();
        return -1; // keep running
      case 'worker':
        await work();
        return -1;
      case 'migrate':
        await runMigrate(parsed.values.status === true);
        return 0;
      case 'user':
        await userCommand(sub, parsed.values);
        return 0;
      case undefined:
      case 'help':
        process.stdout.write(USAGE + '\n');
        return command ? 0 : 2;
      default:
        throw new UsageError(`unknown command "${command}"`);
    }
  } catch (error) {
    if (error instanceof UsageError) process.stderr.write(`scanflow: ${error.message}\n\n${USAGE}\n`);
    else if (error instanceof ConfigError || error instanceof SchemaTooNewError)
      process.stderr.write(`scanflow: ${error.message}\n`);
    else if (error instanceof AppError) process.stderr.write(`scanflow: ${error.message}\n`);
    else process.stderr.write(`scanflow: ${(error as Error).message ?? String(error)}\n`);
    return 1;
  }
}

const code = await main(process.argv.slice(2));
if (code >= 0) process.exit(code);
