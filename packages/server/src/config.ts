/**
 * Configuration comes only from environment variables (and CLI flags mapped onto them), is
 * validated once at start-up, and fails with every problem listed in plain words.
 * `.env.example` at the repository root lists the same variables.
 */
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isValidAeTitle } from './dicom/ae-title.ts';
import { isValidKeyName, parseVerifierKey, type NoteError } from '@scanflow/ledger';

// The models shipped with Scanflow, at the repository root.
const DEFAULT_MODELS_DIR = fileURLToPath(new URL('../../../models/', import.meta.url));

export interface Config {
  port: number;
  host: string;
  dataDir: string;
  databaseUrl: string | undefined;
  masterKey: string | undefined;
  maxUploadBytes: number;
  maxImagePixels: number;
  maxImageDimension: number;
  accessTokenTtlSeconds: number;
  sessionIdleTimeoutSeconds: number;
  sessionMaxAgeSeconds: number;
  loginLockoutThreshold: number;
  authRateLimitPerMinute: number;
  seedDemo: boolean;
  trustProxy: boolean;
  /** Folder of model folders (model.onnx, manifest.json, MODEL_CARD.md each). */
  modelsDir: string;
  /** The active model's folder name; default the only (or first) one. */
  model: string | undefined;
  /** Run the background worker (AI pre-reads) in this process. */
  runWorker: boolean;
  /** AI pre-reads run side by side. */
  aiConcurrency: number;
  /** How long a worklist page may be served from memory (0: never). */
  worklistCacheMs: number;
  /** Where mail goes: smtp:// (STARTTLS) or smtps://; unset, mail stays in the outbox (SPEC R2). */
  smtpUrl: string | undefined;
  /** Refuse SMTP without STARTTLS (default); false only for a relay on a trusted local network. */
  smtpRequireTls: boolean;
  smtpFrom: string;
  /** PEM file of the CA that signed the SMTP server's certificate, for private CAs. */
  smtpCaFile: string | undefined;
  /** Paper size of PDF reports. */
  reportPageSize: 'A4' | 'LETTER';
  /** How people reach this server: the verification link and QR code in reports point here. */
  publicUrl: string;
  /** Public report verifications per client address per minute. */
  verifyRateLimitPerMinute: number;
  /** A ROUTINE case waiting longer than this joins the HIGH cases in the queue (SPEC M4). */
  worklistMaxWaitMinutes: number;
  /** A HIGH case no doctor has opened this long after its analysis raises an alert (SPEC M4). */
  urgentUnopenedMinutes: number;
  /** The DICOM listener: its AE title, address and port (0: no listener). */
  dicomAeTitle: string;
  dicomHost: string;
  dicomPort: number;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  /** Prefix of every log's origin and key name (`<prefix>/<organisation id>`, `<prefix>/system`). */
  ledgerOrigin: string;
  /** Seconds between signed checkpoints of a log that grew (0: only on demand). */
  ledgerCheckpointSeconds: number;
  /** Witnesses this node's logs ask to cosign: their add-checkpoint base URL and cosigner key. */
  ledgerWitnesses: { url: string; verifierKey: string }[];
  /** This node's name as a witness (its cosigner key name). */
  ledgerWitnessName: string;
  /** Verifier keys of other nodes' logs this node witnesses (the key name is the log's origin). */
  ledgerWitnessLogs: string[];
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  }
}

type Env = Record<string, string | undefined>;

export function loadConfig(env: Env = process.env): Config {
  const problems: string[] = [];

  const int = (name: string, fallback: number, min: number, max: number): number => {
    const raw = env[name];
    if (raw === undefined || raw === '') return fallback;
    const value = Number(raw);
    if (!Number.isInteger(value) || value < min || value > max) {
      problems.push(`${name} must be a whole number from ${min} to ${max} (got "${raw}")`);
      return fallback;
    }
    return value;
  };
  const bool = (name: string, fallback: boolean): boolean => {
    const raw = env[name]?.toLowerCase();
    if (raw === undefined || raw === '') return fallback;
    if (['1', 'true', 'yes', 'on'].includes(raw)) return true;
    if (['0', 'false', 'no', 'off'].includes(raw)) return false;
    problems.push(`${name} must be true or false (got "${env[name]}")`);
    return fallback;
  };

  const databaseUrl = env.DATABASE_URL || undefined;
  if (databaseUrl && !/^postgres(ql)?:\/\//.test(databaseUrl)) {
    problems.push('DATABASE_URL must start with postgres:// or postgresql://');
  }
  const masterKey = env.SCANFLOW_MASTER_KEY || undefined;
  if (masterKey) {
    const t = masterKey.trim();
    const ok = /^[0-9a-fA-F]{64}$/.test(t) || Buffer.from(t, 'base64').length === 32;
    if (!ok) problems.push('SCANFLOW_MASTER_KEY must be 32 bytes as 64 hex digits or base64');
  }
  const levels = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
  const logLevel = (env.LOG_LEVEL || 'info') as Config['logLevel'];
  if (!levels.includes(logLevel)) problems.push(`LOG_LEVEL must be one of ${levels.join(', ')}`);

  const dicomAeTitle = (env.DICOM_AE_TITLE || 'SCANFLOW').trim();
  if (!isValidAeTitle(dicomAeTitle)) {
    problems.push('DICOM_AE_TITLE must be 1 to 16 printable ASCII characters without a backslash');
  }

  const ledgerOrigin = env.LEDGER_ORIGIN || 'scanflow.local';
  if (!/^[A-Za-z0-9][A-Za-z0-9.-]*(\/[A-Za-z0-9._-]+)*$/.test(ledgerOrigin)) {
    problems.push('LEDGER_ORIGIN must look like a host name with an optional path, e.g. scanflow.example.org');
  }
  const verifierKey = (name: string, key: string): string => {
    try {
      parseVerifierKey(key);
    } catch (error) {
      problems.push(`${name}: "${key}" is not a signed-note verifier key (${(error as NoteError).message})`);
    }
    return key;
  };
  const list = (name: string) =>
    (env[name] ?? '')
      .split(',')
      .map((item) => item.trim())
      .filter(Boolean);
  const ledgerWitnesses = list('LEDGER_WITNESSES').map((item) => {
    const [url = '', key = '', ...rest] = item.split(/\s+/);
    if (!/^https?:\/\/\S+$/.test(url) || !key || rest.length > 0) {
      problems.push('LEDGER_WITNESSES must be a comma-separated list of "<http(s) URL> <verifier key>"');
    }
    return { url: url.replace(/\/+$/, ''), verifierKey: verifierKey('LEDGER_WITNESSES', key) };
  });

  const ledgerWitnessName = env.LEDGER_WITNESS_NAME || `${ledgerOrigin}/witness`;
  if (!isValidKeyName(ledgerWitnessName)) problems.push('LEDGER_WITNESS_NAME must have no spaces and no "+"');

  const smtpUrl = env.SMTP_URL || undefined;
  if (smtpUrl && !/^smtps?:\/\/[^/\s]+/.test(smtpUrl)) {
    problems.push('SMTP_URL must look like smtp://[user:password@]host[:port] (STARTTLS) or smtps://… (TLS)');
  }
  const reportPageSize = (env.REPORT_PAGE_SIZE || 'A4').toUpperCase();
  if (reportPageSize !== 'A4' && reportPageSize !== 'LETTER') problems.push('REPORT_PAGE_SIZE must be A4 or LETTER');
  const publicUrl = (env.PUBLIC_URL || `http://${env.HOST || '127.0.0.1'}:${env.PORT || 8080}`).replace(/\/+$/, '');
  if (!/^https?:\/\/\S+$/.test(publicUrl)) problems.push('PUBLIC_URL must be an http(s) URL');

  const config: Config = {
    port: int('PORT', 8080, 0, 65535),
    host: env.HOST || '127.0.0.1',
    dataDir: resolve(env.DATA_DIR || './data'),
    databaseUrl,
    masterKey,
    maxUploadBytes: int('MAX_UPLOAD_BYTES', 50 * 1024 * 1024, 1024, 2 * 1024 * 1024 * 1024),
    maxImagePixels: int('MAX_IMAGE_PIXELS', 250_000_000, 1, 4_000_000_000),
    maxImageDimension: int('MAX_IMAGE_DIMENSION', 16_384, 1, 65_535),
    accessTokenTtlSeconds: int('ACCESS_TOKEN_TTL_SECONDS', 900, 30, 900),
    sessionIdleTimeoutSeconds: int('SESSION_IDLE_TIMEOUT_SECONDS', 1800, 60, 86_400),
    sessionMaxAgeSeconds: int('SESSION_MAX_AGE_SECONDS', 12 * 3600, 300, 30 * 86_400),
    loginLockoutThreshold: int('LOGIN_LOCKOUT_THRESHOLD', 5, 1, 100),
    authRateLimitPerMinute: int('AUTH_RATE_LIMIT_PER_MINUTE', 30, 1, 100_000),
    seedDemo: bool('SEED_DEMO', true),
    trustProxy: bool('TRUST_PROXY', false),
    modelsDir: resolve(env.MODELS_DIR || DEFAULT_MODELS_DIR),
    model: env.MODEL || undefined,
    runWorker: bool('RUN_WORKER', true),
    aiConcurrency: int('AI_CONCURRENCY', 4, 1, 16),
    worklistCacheMs: int('WORKLIST_CACHE_MS', 250, 0, 10_000),
    smtpUrl,
    smtpRequireTls: bool('SMTP_REQUIRE_TLS', true),
    smtpFrom: env.SMTP_FROM || 'Scanflow <no-reply@scanflow.invalid>',
    smtpCaFile: env.SMTP_CA_FILE || undefined,
    reportPageSize: reportPageSize as 'A4' | 'LETTER',
    publicUrl,
    verifyRateLimitPerMinute: int('VERIFY_RATE_LIMIT_PER_MINUTE', 30, 1, 100_000),
    worklistMaxWaitMinutes: int('WORKLIST_MAX_WAIT_MINUTES', 60, 1, 525_600),
    urgentUnopenedMinutes: int('URGENT_UNOPENED_MINUTES', 15, 1, 10_080),
    dicomAeTitle,
    dicomHost: env.DICOM_HOST || '127.0.0.1',
    dicomPort: int('DICOM_PORT', 11112, 0, 65535),
    logLevel,
    ledgerOrigin,
    ledgerCheckpointSeconds: int('LEDGER_CHECKPOINT_SECONDS', 60, 0, 86_400),
    ledgerWitnesses,
    ledgerWitnessName,
    ledgerWitnessLogs: list('LEDGER_WITNESS_LOGS').map((key) => verifierKey('LEDGER_WITNESS_LOGS', key)),
  };
  if (problems.length > 0) throw new ConfigError(problems);
  return config;
}
