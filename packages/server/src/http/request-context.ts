/**
 * What a request carries after the authentication hook: the authenticated session (or null on
 * public routes) and what the audit hook should record about it.
 */
import type { FastifyRequest } from 'fastify';
import { unauthorized } from '@scanflow/domain';
import type { AuditDetails } from '../audit/audit-log.ts';
import type { AuthenticatedSession, RequestInfo } from '../services/auth-service.ts';

export interface AuditTarget {
  resourceType?: string;
  resourceId?: string | null;
  reason?: string | null;
  /** Identifiers only (hashes, versions): copied into the ledger leaf. */
  details?: AuditDetails | null;
  /** For sign-in and sign-up: who turned out to be acting. */
  actor?: { userId: string; orgId: string; role: string };
}

/** Route-level configuration read by the hooks. */
export interface RouteConfig {
  /** false: a public route (sign-in, health). Default: an access token is required. */
  auth?: boolean;
  /** The audit action for this route; false when the service audits in its own words. */
  audit?: string | false;
}

declare module 'fastify' {
  interface FastifyRequest {
    session: AuthenticatedSession | null;
    auditTarget: AuditTarget;
  }
  interface FastifyContextConfig {
    auth?: boolean;
    audit?: string | false;
  }
}

export function sessionOf(request: FastifyRequest): AuthenticatedSession {
  if (!request.session) throw unauthorized();
  return request.session;
}

export const infoOf = (request: FastifyRequest): RequestInfo => ({ clientAddress: request.ip });
