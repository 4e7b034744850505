/**
 * UUIDs in their text form (RFC 9562: 8-4-4-4-12 hex digits, any version). Every identifier of a
 * record is one; checking the shape first lets a malformed id be "not found" or "invalid" rather
 * than a database error.
 */
const UUID_TEXT = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const CANONICAL_UUID_TEXT = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** A UUID as a client may write it: hex digits in either case, as PostgreSQL's uuid type reads it. */
export function isUuid(value: string): boolean {
  return UUID_TEXT.test(value);
}

/**
 * A UUID exactly as Scanflow writes one (lower case, as PostgreSQL and randomUUID do): for ids that
 * only Scanflow produced, such as a token's claims or a scope written into SQL, where anything
 * else means tampering or a bug.
 */
export function isCanonicalUuid(value: string): boolean {
  return CANONICAL_UUID_TEXT.test(value);
}
