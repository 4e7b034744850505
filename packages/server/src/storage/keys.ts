/**
 * The master key and the keys derived from it. The master key comes from SCANFLOW_MASTER_KEY
 * (32 bytes, base64 or hex) or from a key file under DATA_DIR created on first start with 0600
 * permissions. Purpose-specific keys are derived with HKDF-SHA-256 (RFC 5869) so that no key is
 * used for two jobs.
 */
import { createHash, hkdfSync, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

export interface KeyRing {
  /** Short identifier of the master key, written into every envelope for future rotation. */
  keyId: Buffer;
  /** Wraps per-blob data keys (AES-256-GCM key-encryption key). */
  blobKek: Buffer;
  /** Encrypts personal fields in database rows. */
  fieldKey: Buffer;
  /** Keyed hash for looking up e-mail addresses and patient IDs without storing them in clear. */
  lookupKey: Buffer;
  /** Signs access tokens (HS256). */
  tokenKey: Buffer;
  /** Encrypts the tamper-evident log's Ed25519 signing seeds at rest. */
  ledgerSeedKey: Buffer;
  /** Keyed hash of client addresses in log entries (a plain hash of an IPv4 address is reversible). */
  ledgerAddressKey: Buffer;
}

export function parseMasterKey(text: string): Buffer {
  const trimmed = text.trim();
  const key = /^[0-9a-fA-F]{64}$/.test(trimmed) ? Buffer.from(trimmed, 'hex') : Buffer.from(trimmed, 'base64');
  if (key.length !== 32) {
    throw new Error('SCANFLOW_MASTER_KEY must be 32 bytes, written as 64 hex digits or 44 base64 characters');
  }
  return key;
}

/** Reads the key file, or creates it (0600) when there is none yet. */
export function loadOrCreateKeyFile(path: string): Buffer {
  if (existsSync(path)) {
    const mode = statSync(path).mode & 0o777;
    if (mode & 0o077) chmodSync(path, 0o600); // tighten a key file someone loosened
    return parseMasterKey(readFileSync(path, 'utf8'));
  }
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const key = randomBytes(32);
  writeFileSync(path, key.toString('base64') + '\n', { mode: 0o600, flag: 'wx' });
  return key;
}

export function deriveKeyRing(master: Buffer): KeyRing {
  const derive = (purpose: string) => Buffer.from(hkdfSync('sha256', master, 'scanflow', purpose, 32));
  return {
    keyId: createHash('sha256').update(master).digest().subarray(0, 4),
    blobKek: derive('blob-kek/v1'),
    fieldKey: derive('field/v1'),
    lookupKey: derive('lookup/v1'),
    tokenKey: derive('access-token/v1'),
    ledgerSeedKey: derive('ledger-seed/v1'),
    ledgerAddressKey: derive('ledger-address/v1'),
  };
}
