// Canonical serialisation of a log entry: the exact bytes that become a Merkle leaf.
//
// The format is the JSON Canonicalization Scheme (RFC 8785, "JCS") restricted to a closed schema:
// a flat object whose values are strings, safe integers, booleans or null, plus one optional
// `extra` object of the same scalar kinds. Restricting the value space removes the parts of JCS
// that are hard to reproduce across languages (floating-point formatting, RFC 8785 §3.2.2.3) and
// makes every accepted entry have exactly one byte representation, so an auditor's independent
// implementation in any language reaches the same leaf hashes.
//
// Entries name identifiers only: no names, no free text. A reason typed by a user is logged as
// `reasonHash` (hex SHA-256 of the text, kept elsewhere), so the log can be exported to an auditor
// without exporting personal data, and erasing the text does not break the tree.

import { hashLeaf } from './merkle.ts';

/** A scalar a log entry may hold. Floats are excluded on purpose (see above). */
export type LedgerScalar = string | number | boolean | null;

/** One event of the tamper-evident log. See the README for the field definitions. */
export interface LedgerEntry {
  /** 0-based position in the log; equals the Merkle leaf index. */
  seq: number;
  /** Organisation (tenant) whose log this is. */
  orgId: string;
  /** Time of the event, UTC, exactly as `Date.prototype.toISOString()` writes it. */
  at: string;
  /** Acting user's id, or null for the system itself. */
  actorUserId: string | null;
  /** The actor's role when acting, or null for the system. */
  actorRole: string | null;
  /** What was done, e.g. `scan.view`, `report.sign`, `auth.login_failed`. */
  action: string;
  /** Kind of the resource acted on, e.g. `scan`, `report`, `user`. */
  resourceType: string;
  /** The resource's id, or null when the action has no single resource. */
  resourceId: string | null;
  /** Result, e.g. `success`, `denied`, `failure`. */
  outcome: string;
  /** Lower-case hex SHA-256 of a free-text reason, when one was given. */
  reasonHash?: string;
  /** Further identifiers (hashes, ids, counters, addresses' hashes); never personal data. */
  extra?: Readonly<Record<string, LedgerScalar>>;
}

/** Thrown for a value that has no canonical form. */
export class CanonicalError extends Error {
  override name = 'CanonicalError';
}

type FieldKind = 'string' | 'string|null' | 'int' | 'hash' | 'timestamp' | 'extra';

// The closed schema. A field not listed here is rejected, so a careless caller cannot leak a
// patient's name into an append-only, exported, unredactable log.
const FIELDS: Readonly<Record<string, { kind: FieldKind; required: boolean }>> = {
  seq: { kind: 'int', required: true },
  orgId: { kind: 'string', required: true },
  at: { kind: 'timestamp', required: true },
  actorUserId: { kind: 'string|null', required: true },
  actorRole: { kind: 'string|null', required: true },
  action: { kind: 'string', required: true },
  resourceType: { kind: 'string', required: true },
  resourceId: { kind: 'string|null', required: true },
  outcome: { kind: 'string', required: true },
  reasonHash: { kind: 'hash', required: false },
  extra: { kind: 'extra', required: false },
};

// In RFC 8785 order (see compareKeys), so serialising needs no sort at the top level.
const FIELD_LIST = Object.entries(FIELDS).sort(([a], [b]) => compareKeys(a, b));

/** Limits that keep entries small and identifiers-only. */
export const LIMITS = { maxStringLength: 256, maxExtraKeys: 32 } as const;

const EXTRA_KEY = /^[A-Za-z][A-Za-z0-9_.-]{0,63}$/;
const TIMESTAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const HEX_SHA256 = /^[0-9a-f]{64}$/;
// With the `u` flag, a surrogate code unit only matches when it is unpaired.
const LONE_SURROGATE = /[\uD800-\uDFFF]/u;

function fail(path: string, why: string): never {
  throw new CanonicalError(`${path}: ${why}`);
}

function checkString(path: string, v: unknown): string {
  if (typeof v !== 'string') fail(path, `expected a string, got ${describe(v)}`);
  // RFC 8785 §3.2.2.2 requires well-formed Unicode; a lone surrogate has no UTF-8 encoding.
  if (LONE_SURROGATE.test(v)) fail(path, 'contains a lone surrogate');
  if (v.length > LIMITS.maxStringLength) fail(path, `longer than ${LIMITS.maxStringLength}`);
  return v;
}

function checkScalar(path: string, v: unknown): LedgerScalar {
  if (v === null || typeof v === 'boolean') return v;
  if (typeof v === 'string') return checkString(path, v);
  if (typeof v === 'number') {
    if (!Number.isSafeInteger(v)) fail(path, `only safe integers are allowed, got ${v}`);
    return v;
  }
  return fail(path, `expected a string, safe integer, boolean or null, got ${describe(v)}`);
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  return typeof v;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  const proto = Object.getPrototypeOf(v) as unknown;
  return proto === Object.prototype || proto === null;
}

/**
 * Checks that `value` is a well-formed entry and returns a normalised copy (own keys only,
 * `extra` copied). Throws `CanonicalError` naming the first offending field.
 */
export function validateEntry(value: unknown): LedgerEntry {
  if (!isPlainObject(value)) fail('entry', `expected an object, got ${describe(value)}`);
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(value)) {
    if (!Object.hasOwn(FIELDS, key)) fail(key, 'is not a ledger entry field');
  }
  for (const [key, spec] of FIELD_LIST) {
    if (!Object.hasOwn(value, key)) {
      if (spec.required) fail(key, 'is required');
      continue;
    }
    const v = value[key];
    // An optional key that is present must have a value: `undefined` has no JSON form, and
    // silently dropping it would let two different objects share one serialisation.
    if (v === undefined) fail(key, 'is undefined; omit the key instead');
    switch (spec.kind) {
      case 'string':
        out[key] = checkString(key, v);
        break;
      case 'string|null':
        out[key] = v === null ? null : checkString(key, v);
        break;
      case 'int':
        if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) {
          fail(key, 'must be a non-negative safe integer');
        }
        out[key] = v;
        break;
      case 'hash':
        if (typeof v !== 'string' || !HEX_SHA256.test(v)) fail(key, 'must be 64 lower-case hex digits');
        out[key] = v;
        break;
      case 'timestamp': {
        // One spelling per instant: the toISOString form, which must round-trip through Date.
        if (typeof v !== 'string' || !TIMESTAMP.test(v)) fail(key, 'must be YYYY-MM-DDTHH:MM:SS.sssZ');
        if (!isRealDate(v)) fail(key, 'is not a valid UTC time');
        out[key] = v;
        break;
      }
      case 'extra': {
        if (!isPlainObject(v)) fail(key, `expected a flat object, got ${describe(v)}`);
        const keys = Object.keys(v);
        if (keys.length > LIMITS.maxExtraKeys) fail(key, `more than ${LIMITS.maxExtraKeys} keys`);
        const extra: Record<string, LedgerScalar> = {};
        for (const k of keys) {
          if (!EXTRA_KEY.test(k)) fail(`${key}.${k}`, 'key must match [A-Za-z][A-Za-z0-9_.-]{0,63}');
          const ev = v[k];
          if (ev === undefined) fail(`${key}.${k}`, 'is undefined; omit the key instead');
          // Nested objects and arrays are rejected here: depth is exactly one below the root.
          extra[k] = checkScalar(`${key}.${k}`, ev);
        }
        out[key] = extra;
        break;
      }
    }
  }
  return out as unknown as LedgerEntry;
}

// RFC 8785 §3.2.3: properties sorted by their names' UTF-16 code units. JavaScript's default
// string comparison is exactly that order.
function compareKeys(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function serialiseScalar(v: LedgerScalar): string {
  if (v === null) return 'null';
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  // RFC 8785 §3.2.2.3 serialises numbers as ECMAScript Number.prototype.toString; for safe
  // integers that is the plain decimal form (and -0 becomes "0").
  if (typeof v === 'number') return String(v);
  // RFC 8785 §3.2.2.2: strings as ECMAScript JSON.stringify writes them (for well-formed
  // strings: \" \\ \b \f \n \r \t, other controls as \u00xx lower-case, everything else literal).
  return JSON.stringify(v);
}

// The checks toISOString output always passes: month 1-12, a day that exists in that month
// (proleptic Gregorian leap years), hours < 24, minutes and seconds < 60. Cheaper than a
// Date.parse/toISOString round trip on the replay hot path.
function isRealDate(v: string): boolean {
  const y = Number(v.slice(0, 4));
  const mo = Number(v.slice(5, 7));
  const d = Number(v.slice(8, 10));
  const h = Number(v.slice(11, 13));
  const mi = Number(v.slice(14, 16));
  const sec = Number(v.slice(17, 19));
  if (mo < 1 || mo > 12 || d < 1 || h > 23 || mi > 59 || sec > 59) return false;
  const leap = (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;
  const days = mo === 2 ? (leap ? 29 : 28) : [4, 6, 9, 11].includes(mo) ? 30 : 31;
  return d <= days;
}

function serialiseEntry(entry: LedgerEntry): string {
  const obj = entry as unknown as Readonly<Record<string, unknown>>;
  const parts: string[] = [];
  for (const [k] of FIELD_LIST) {
    if (!Object.hasOwn(obj, k)) continue;
    const v = obj[k];
    const value = isPlainObject(v) ? serialiseObject(v) : serialiseScalar(v as LedgerScalar);
    parts.push(`${JSON.stringify(k)}:${value}`);
  }
  return `{${parts.join(',')}}`;
}

function serialiseObject(obj: Readonly<Record<string, unknown>>): string {
  const parts: string[] = [];
  for (const k of Object.keys(obj).sort(compareKeys)) {
    const v = obj[k];
    const value = isPlainObject(v) ? serialiseObject(v) : serialiseScalar(v as LedgerScalar);
    parts.push(`${JSON.stringify(k)}:${value}`);
  }
  return `{${parts.join(',')}}`;
}

const encoder = new TextEncoder();
// ignoreBOM keeps a byte-order mark in the text, where JSON.parse rejects it, instead of
// silently dropping it and accepting non-canonical bytes.
const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** Canonical JSON text of an entry (see README, "Canonical serialisation"). */
export function canonicalJson(entry: LedgerEntry): string {
  return serialiseEntry(validateEntry(entry));
}

/** Canonical UTF-8 bytes of an entry: the Merkle leaf data. */
export function canonicalBytes(entry: LedgerEntry): Uint8Array {
  return encoder.encode(canonicalJson(entry));
}

/** RFC 9162 §2.1.1 leaf hash of an entry: SHA-256(0x00 || canonicalBytes(entry)). */
export function entryLeafHash(entry: LedgerEntry): Uint8Array {
  return hashLeaf(canonicalBytes(entry));
}

/**
 * Parses canonical bytes back into an entry, and rejects bytes that are not the canonical form
 * of what they parse to (whitespace, key order, escapes, number spelling, invalid UTF-8), so an
 * export cannot carry two spellings of one entry.
 */
export function parseCanonical(bytes: Uint8Array): LedgerEntry {
  let text: string;
  try {
    text = decoder.decode(bytes);
  } catch {
    throw new CanonicalError('entry: not valid UTF-8');
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new CanonicalError('entry: not valid JSON');
  }
  const entry = validateEntry(parsed);
  // Already validated: serialise directly rather than through canonicalJson, which would
  // validate again (this is the hot path of a full replay).
  if (serialiseEntry(entry) !== text) {
    throw new CanonicalError('entry: bytes are not in canonical form');
  }
  return entry;
}
