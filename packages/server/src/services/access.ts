/**
 * Turning the policy's decisions into refusals, and a session into its database scope: the one
 * bridge between `@scanflow/domain`'s `decide` and the services that act on its answer.
 */
import { AppError, decide, notFound, type Action, type Decision } from '@scanflow/domain';
import type { Database, Queryable } from '../db/database.ts';
import { withScope, type Scope } from '../db/scope.ts';
import type { AuthenticatedSession } from './auth-service.ts';

/** The row-level-security scope a session's queries run in. */
export const scopeOf = (session: AuthenticatedSession): Scope => ({
  orgId: session.actor.orgId,
  userId: session.actor.userId,
  dbRole: session.dbRole,
});

/** Throws the refusal a decision stands for: 404 for what the actor may not know exists. */
export function enforce(decision: Decision, what: string): void {
  if (decision.allow) return;
  if (decision.code === 'not_found') throw notFound(what);
  throw new AppError(decision.code === 'mfa_required' ? 'mfa_required' : 'forbidden', decision.reason);
}

/** An organisation-wide action (admin functions): asks the policy, then runs in the session's scope. */
export function inOrganisation<T>(
  db: Database,
  session: AuthenticatedSession,
  action: Action,
  fn: (tx: Queryable) => Promise<T>,
): Promise<T> {
  enforce(decide(session.actor, action, { kind: 'organisation', orgId: session.actor.orgId }), 'Organisation');
  return withScope(db, scopeOf(session), fn);
}
