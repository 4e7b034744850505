/**
 * Versioned migrations: numbered SQL files in ./migrations, applied in order inside one
 * transaction under an advisory lock (several processes may start at once against one server).
 * A database migrated by a newer build is refused, not silently used.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Database, Queryable } from './database.ts';

const MIGRATIONS_DIR = fileURLToPath(new URL('./migrations/', import.meta.url));
// Any constant shared by every Scanflow process; it names the lock in pg_locks.
const MIGRATION_LOCK_ID = 7_246_031_911;

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export function loadMigrations(dir = MIGRATIONS_DIR): Migration[] {
  return readdirSync(dir)
    .filter((file) => /^\d{4}_[a-z0-9_]+\.sql$/.test(file))
    .sort()
    .map((file) => ({
      version: Number(file.slice(0, 4)),
      name: file.slice(5, -4),
      sql: readFileSync(dir + file, 'utf8'),
    }));
}

export class SchemaTooNewError extends Error {
  constructor(databaseVersion: number, buildVersion: number) {
    super(
      `The database schema is at version ${databaseVersion}, but this build of Scanflow knows only up to ` +
        `version ${buildVersion}. It was migrated by a newer Scanflow; upgrade this build instead of using it.`,
    );
  }
}

async function appliedVersions(db: Queryable): Promise<number[]> {
  const { rows } = await db.query<{ version: number }>(`SELECT version FROM schema_migrations ORDER BY version`);
  return rows.map((r) => Number(r.version));
}

export interface MigrationStatus {
  current: number;
  latest: number;
  pending: number[];
}

export async function migrationStatus(db: Queryable, migrations = loadMigrations()): Promise<MigrationStatus> {
  const { rows } = await db.query<{ exists: boolean }>(`SELECT to_regclass('schema_migrations') IS NOT NULL AS exists`);
  const applied = rows[0]?.exists ? await appliedVersions(db) : [];
  const latest = migrations.at(-1)?.version ?? 0;
  return {
    current: applied.at(-1) ?? 0,
    latest,
    pending: migrations.filter((m) => !applied.includes(m.version)).map((m) => m.version),
  };
}

/** Applies pending migrations; returns the versions applied. */
export async function migrate(db: Database, migrations = loadMigrations()): Promise<number[]> {
  const latest = migrations.at(-1)?.version ?? 0;
  return db.transaction(async (tx) => {
    await tx.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK_ID]);
    await tx.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
      version integer PRIMARY KEY,
      name text NOT NULL,
      applied_at timestamptz NOT NULL DEFAULT now()
    )`);
    const applied = await appliedVersions(tx);
    const newest = applied.at(-1) ?? 0;
    if (newest > latest) throw new SchemaTooNewError(newest, latest);
    const done: number[] = [];
    for (const migration of migrations) {
      if (applied.includes(migration.version)) continue;
      await tx.exec(migration.sql);
      await tx.query('INSERT INTO schema_migrations (version, name) VALUES ($1, $2)', [
        migration.version,
        migration.name,
      ]);
      done.push(migration.version);
    }
    return done;
  });
}
