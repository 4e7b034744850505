/**
 * Request-scoped database access. Every request that touches clinical or organisation data runs in
 * a transaction that first binds the organisation, the user and the effective role (as
 * transaction-local settings) and then drops to the non-superuser role `scanflow_app`, so that the
 * row-level security policies in the schema apply even on PGlite, whose default user is a
 * superuser (superusers bypass RLS).
 *
 * `withSystem` is the only way around it: for sign-in (a user is looked up before anyone is
 * known), migrations, seeding, and background jobs that act for the system. Keep its callers few.
 */
import type { Database, Transaction } from './database.ts';

/** The database role name RLS policies read in app_role(). */
export type DbRole = 'patient' | 'doctor' | 'pharmacist' | 'admin' | 'restricted' | 'system';

export interface Scope {
  orgId: string;
  /** Null for work done by the system itself (the AI pre-read, the DICOM listener). */
  userId: string | null;
  dbRole: DbRole;
}

export async function bindScope(tx: Transaction, scope: Scope): Promise<void> {
  // set_config(..., true) is SET LOCAL: it ends with the transaction, so a pooled connection
  // never carries one request's identity into the next.
  await tx.query(
    `SELECT set_config('app.org', $1, true), set_config('app.user', $2, true),
            set_config('app.role', $3, true), set_config('role', 'scanflow_app', true)`,
    [scope.orgId, scope.userId ?? '', scope.dbRole],
  );
}

export function withScope<T>(db: Database, scope: Scope, fn: (tx: Transaction) => Promise<T>): Promise<T> {
  return db.transaction(async (tx) => {
    await bindScope(tx, scope);
    return fn(tx);
  });
}

export function withSystem<T>(db: Database, fn: (tx: Transaction) => Promise<T>): Promise<T> {
  return db.transaction(fn);
}
