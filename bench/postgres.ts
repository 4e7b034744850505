/** PostgreSQL for benchmarks: each section measures on a database of its own, made afresh. */
import pg from 'pg';

/** Drops and recreates the database `url` names; false when no server answers there. */
export async function freshPostgres(url: string): Promise<boolean> {
  const admin = new pg.Client({ connectionString: url.replace(/\/[^/]+$/, '/postgres') });
  try {
    await admin.connect();
    const name = url.split('/').pop()!;
    await admin.query(`DROP DATABASE IF EXISTS ${name}`);
    await admin.query(`CREATE DATABASE ${name}`);
    return true;
  } catch {
    return false;
  } finally {
    await admin.end().catch(() => undefined);
  }
}
