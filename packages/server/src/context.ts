/**
 * Everything a request handler or a CLI command needs, built once at start-up from the validated
 * configuration: the database, keys, encrypted storage, token service and audit log.
 */
import { EventEmitter } from 'node:events';
import { join } from 'node:path';
import type { Config } from './config.ts';
import { openDatabase, type Database } from './db/database.ts';
import { migrate } from './db/migrate.ts';
import { EncryptedBlobStore, LocalDirectoryStore } from './storage/blob-store.ts';
import { FieldCipher } from './storage/field-cipher.ts';
import { deriveKeyRing, loadOrCreateKeyFile, parseMasterKey, type KeyRing } from './storage/keys.ts';
import { AuditLog } from './audit/audit-log.ts';
import { TokenService } from './auth/tokens.ts';

export interface AppContext {
  config: Config;
  db: Database;
  keys: KeyRing;
  cipher: FieldCipher;
  blobs: EncryptedBlobStore;
  tokens: TokenService;
  audit: AuditLog;
  /** In-process signals between parts of the app ('jobs': a job was enqueued). */
  signals: EventEmitter;
}

export interface ContextOptions {
  /** Use this database instead of opening one from the configuration (tests share one). */
  db?: Database;
  /** Run migrations on open (default true). */
  migrate?: boolean;
}

export async function createContext(config: Config, options: ContextOptions = {}): Promise<AppContext> {
  const master = config.masterKey
    ? parseMasterKey(config.masterKey)
    : loadOrCreateKeyFile(join(config.dataDir, 'keys', 'master.key'));
  const keys = deriveKeyRing(master);
  master.fill(0);

  const db =
    options.db ??
    (await openDatabase({
      url: config.databaseUrl,
      dataDir: config.databaseUrl ? undefined : join(config.dataDir, 'pg'),
    }));
  if (options.migrate !== false) await migrate(db);

  return {
    config,
    db,
    keys,
    cipher: new FieldCipher(keys.fieldKey, keys.lookupKey),
    blobs: new EncryptedBlobStore(new LocalDirectoryStore(join(config.dataDir, 'blobs')), keys),
    tokens: new TokenService(keys.tokenKey, config.accessTokenTtlSeconds),
    audit: new AuditLog(db),
    signals: new EventEmitter(),
  };
}
