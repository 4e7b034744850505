/**
 * From an audit event to a log entry (the leaf's canonical bytes, packages/ledger README). The
 * entry names identifiers only: the free-text reason becomes its SHA-256 (`reasonHash`), the
 * client address a keyed hash (`extra.clientHash`; a plain hash of an IPv4 address is reversible
 * by enumeration), and the event's `details` (content hashes, versions) are copied into `extra`,
 * which is how a scan's SHA-256 and a report's hash become leaves.
 *
 * The audit event's own `seq` is `extra.auditSeq`; the entry's `seq` is its leaf index in its log.
 * A malformed detail must never stop the sequencer (the log would stall behind it), so values
 * that have no canonical form are replaced by their hash rather than refused.
 */
import { createHash, createHmac } from 'node:crypto';
import { LIMITS, canonicalBytes, type LedgerEntry, type LedgerScalar } from '@scanflow/ledger';

/** The log of events that belong to no organisation (e.g. a failed sign-in for an unknown address). */
export const SYSTEM_LOG = 'system';

export interface AuditRow {
  seq: number;
  id: string;
  org_id: string | null;
  at: Date;
  actor_user_id: string | null;
  actor_role: string | null;
  action: string;
  resource_type: string | null;
  resource_id: string | null;
  outcome: string;
  client_address: string | null;
  reason: string | null;
  details: Record<string, unknown> | null;
}

const EXTRA_KEY = /^[A-Za-z][A-Za-z0-9_.-]{0,63}$/;
// Members this module sets itself; a detail of the same name cannot override them.
const OWN_EXTRA = ['auditSeq', 'auditId', 'clientHash'] as const;

const sha256Hex = (text: string) => createHash('sha256').update(text, 'utf8').digest('hex');

/** A string the canonical form accepts: long or malformed text is replaced by its hash. */
function identifier(value: string): string {
  const wellFormed = !/[\uD800-\uDFFF]/u.test(value);
  return wellFormed && value.length <= LIMITS.maxStringLength ? value : `sha256:${sha256Hex(value)}`;
}

function scalar(value: unknown): LedgerScalar {
  if (value === null || typeof value === 'boolean') return value;
  if (typeof value === 'number') return Number.isSafeInteger(value) ? value : identifier(String(value));
  if (typeof value === 'string') return identifier(value);
  // Arrays, objects, bigints: not scalars; kept as the hash of their JSON text.
  return identifier(
    JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v)) ?? typeof value,
  );
}

export function logIdOf(row: Pick<AuditRow, 'org_id'>): string {
  return row.org_id ?? SYSTEM_LOG;
}

/** The entry for an audit event at `leafIndex` of its log. */
export function entryFor(row: AuditRow, leafIndex: number, addressKey: Buffer): LedgerEntry {
  const extra: Record<string, LedgerScalar> = {};
  const room = LIMITS.maxExtraKeys - OWN_EXTRA.length;
  for (const [key, value] of Object.entries(row.details ?? {})) {
    if (Object.keys(extra).length >= room) break;
    if (!EXTRA_KEY.test(key) || (OWN_EXTRA as readonly string[]).includes(key) || value === undefined) continue;
    extra[key] = scalar(value);
  }
  extra.auditSeq = row.seq;
  extra.auditId = row.id;
  if (row.client_address) {
    extra.clientHash = clientHashOf(row.client_address, addressKey);
  }
  return {
    seq: leafIndex,
    orgId: logIdOf(row),
    at: row.at.toISOString(),
    actorUserId: row.actor_user_id === null ? null : identifier(row.actor_user_id),
    actorRole: row.actor_role === null ? null : identifier(row.actor_role),
    action: identifier(row.action),
    resourceType: identifier(row.resource_type ?? 'none'),
    resourceId: row.resource_id === null ? null : identifier(row.resource_id),
    outcome: identifier(row.outcome),
    ...(row.reason ? { reasonHash: sha256Hex(row.reason) } : {}),
    extra,
  };
}

/** The canonical bytes of the entry for an audit event. */
export function entryBytesFor(row: AuditRow, leafIndex: number, addressKey: Buffer): Uint8Array {
  return canonicalBytes(entryFor(row, leafIndex, addressKey));
}

// A busy log sees the same few client addresses over and over; one HMAC per address, not per
// event, is a measurable share of a sequencer pass. Per key (each process has one; tests several).
const clientHashes = new WeakMap<Buffer, Map<string, string>>();
const MAX_REMEMBERED_ADDRESSES = 10_000;

/** The keyed hash of a client address, as entries carry it. */
function clientHashOf(address: string, addressKey: Buffer): string {
  let known = clientHashes.get(addressKey);
  if (!known) clientHashes.set(addressKey, (known = new Map<string, string>()));
  let hash = known.get(address);
  if (hash === undefined) {
    if (known.size >= MAX_REMEMBERED_ADDRESSES) known.clear();
    hash = createHmac('sha256', addressKey).update(address).digest('hex');
    known.set(address, hash);
  }
  return hash;
}
