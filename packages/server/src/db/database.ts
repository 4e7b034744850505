/**
 * One small database interface with two adapters: embedded PGlite (the default, one process, no
 * install) and a PostgreSQL server through `pg` (DATABASE_URL). Both speak the same SQL, run the
 * same migrations, and hide their small differences (row counts, bigint) here.
 */
import { PGlite } from '@electric-sql/pglite';
import pg from 'pg';

export interface QueryResult<R> {
  rows: R[];
  rowCount: number;
}

export interface Queryable {
  query<R = Record<string, unknown>>(sql: string, params?: readonly unknown[]): Promise<QueryResult<R>>;
}

export interface Transaction extends Queryable {
  /** Runs several statements in one go (migrations). Takes no parameters. */
  exec(sql: string): Promise<void>;
}

export interface Database extends Queryable {
  readonly kind: 'pglite' | 'postgres';
  /**
   * Runs `fn` in a transaction. `preamble` (trusted SQL without parameters) runs first; on a
   * server it travels with BEGIN in one round trip, which matters on every request.
   */
  transaction<T>(fn: (tx: Transaction) => Promise<T>, preamble?: string): Promise<T>;
  /**
   * LISTENs on `channel` (PostgreSQL NOTIFY, delivered after the notifying transaction commits).
   * On a server this holds a dedicated connection, re-opened after a drop; `onReconnect` then
   * runs, since notifications sent meanwhile are lost. Returns a function that stops listening.
   */
  listen(channel: string, onNotify: (payload: string) => void, onReconnect?: () => void): Promise<() => Promise<void>>;
  close(): Promise<void>;
}

// pg returns int8 as text to avoid precision loss; our bigints (sizes, sequence numbers) fit in a
// double, so read them as numbers on both adapters.
pg.types.setTypeParser(20, (value) => Number(value));

const CHANNEL = /^[a-z_][a-z0-9_]{0,62}$/;
const LISTEN_RETRY_MS = 1000;

class PostgresDatabase implements Database {
  readonly kind = 'postgres';
  constructor(
    private readonly pool: pg.Pool,
    private readonly url: string,
  ) {}

  async listen(channel: string, onNotify: (payload: string) => void, onReconnect?: () => void) {
    if (!CHANNEL.test(channel)) throw new Error('Refusing to listen on a malformed channel name');
    let stopped = false;
    let client: pg.Client | null = null;
    let retry: NodeJS.Timeout | undefined;
    const connect = async (isRetry: boolean): Promise<void> => {
      const next = new pg.Client({ connectionString: this.url });
      next.on('notification', (message) => {
        if (message.channel === channel) onNotify(message.payload ?? '');
      });
      // A dropped connection is replaced; the caller catches up on what it may have missed.
      next.on('error', () => undefined);
      next.on('end', () => {
        if (stopped || client !== next) return;
        client = null;
        retry = setTimeout(() => void connect(true).catch(() => undefined), LISTEN_RETRY_MS);
      });
      try {
        await next.connect();
        await next.query(`LISTEN ${channel}`);
      } catch (error) {
        await next.end().catch(() => undefined);
        if (!isRetry) throw error;
        if (!stopped) retry = setTimeout(() => void connect(true).catch(() => undefined), LISTEN_RETRY_MS);
        return;
      }
      if (stopped) {
        await next.end().catch(() => undefined);
        return;
      }
      client = next;
      if (isRetry) onReconnect?.();
    };
    await connect(false);
    return async () => {
      stopped = true;
      clearTimeout(retry);
      const current = client;
      client = null;
      await current?.end().catch(() => undefined);
    };
  }

  async query<R>(sql: string, params: readonly unknown[] = []): Promise<QueryResult<R>> {
    const result = await this.pool.query(sql, params as unknown[]);
    return { rows: result.rows as R[], rowCount: result.rowCount ?? 0 };
  }

  async transaction<T>(fn: (tx: Transaction) => Promise<T>, preamble?: string): Promise<T> {
    const client = await this.pool.connect();
    try {
      await client.query(preamble ? `BEGIN; ${preamble}` : 'BEGIN');
      const tx: Transaction = {
        query: async <R>(sql: string, params: readonly unknown[] = []) => {
          const result = await client.query(sql, params as unknown[]);
          return { rows: result.rows as R[], rowCount: result.rowCount ?? 0 };
        },
        // Without parameters pg uses the simple protocol, which accepts several statements.
        exec: async (sql: string) => {
          await client.query(sql);
        },
      };
      const value = await fn(tx);
      await client.query('COMMIT');
      return value;
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      client.release();
    }
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}

class PgliteDatabase implements Database {
  readonly kind = 'pglite';
  constructor(private readonly db: PGlite) {}

  // One process, one connection: NOTIFY from any transaction reaches this listener after commit.
  async listen(channel: string, onNotify: (payload: string) => void) {
    if (!CHANNEL.test(channel)) throw new Error('Refusing to listen on a malformed channel name');
    const unlisten = await this.db.listen(channel, onNotify);
    return async () => {
      await unlisten().catch(() => undefined);
    };
  }

  async query<R>(sql: string, params: readonly unknown[] = []): Promise<QueryResult<R>> {
    const result = await this.db.query<R>(sql, params as unknown[]);
    return { rows: result.rows, rowCount: result.affectedRows ?? result.rows.length };
  }

  async transaction<T>(fn: (tx: Transaction) => Promise<T>, preamble?: string): Promise<T> {
    return this.db.transaction(async (t) => {
      if (preamble) await t.exec(preamble);
      return fn({
        query: async <R>(sql: string, params: readonly unknown[] = []) => {
          const result = await t.query<R>(sql, params as unknown[]);
          return { rows: result.rows, rowCount: result.affectedRows ?? result.rows.length };
        },
        exec: async (sql: string) => {
          await t.exec(sql);
        },
      });
    });
  }

  async close(): Promise<void> {
    await this.db.close();
  }
}

export interface DatabaseOptions {
  /** postgres://… for a server; otherwise PGlite. */
  url?: string | undefined;
  /** PGlite data directory; omitted means in memory (tests). */
  dataDir?: string | undefined;
  poolSize?: number;
}

export async function openDatabase(options: DatabaseOptions): Promise<Database> {
  if (options.url) {
    const pool = new pg.Pool({ connectionString: options.url, max: options.poolSize ?? 20 });
    // An idle client that errors (server restart) must not crash the process.
    pool.on('error', () => undefined);
    const db = new PostgresDatabase(pool, options.url);
    await db.query('SELECT 1');
    return db;
  }
  const pglite = options.dataDir ? new PGlite(options.dataDir) : new PGlite();
  await pglite.waitReady;
  // bigint as number on PGlite too (see the pg type parser above).
  return new PgliteDatabase(pglite);
}
