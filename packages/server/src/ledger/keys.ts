/**
 * The node's Ed25519 keys (RFC 8032): one log key per log, signing its checkpoints as
 * c2sp.org/signed-note type 0x01, and one witness key, cosigning other logs' checkpoints as
 * c2sp.org/tlog-cosignature type 0x04. Each is generated the first time it is needed and stored
 * with its 32-byte seed encrypted (AES-256-GCM under a key derived from the master key); the
 * public half is what `/.well-known/scanflow-ledger-keys` publishes.
 */
import {
  createCosigner,
  createNoteSigner,
  ed25519RawPublicKey,
  ed25519PrivateKeyFromSeed,
  generateEd25519Seed,
  type NoteSigner,
} from '@scanflow/ledger';
import type { Database } from '../db/database.ts';
import { withSystem } from '../db/scope.ts';
import type { FieldCipher } from '../storage/field-cipher.ts';

export type KeyKind = 'log' | 'witness';

/**
 * Loads the key stored under `id` (kind and key name), or generates and stores it; the first
 * writer wins across processes. A log's key name is its origin, so changing LEDGER_ORIGIN starts
 * new logs' keys: keep it fixed once checkpoints exist.
 */
export async function loadOrCreateSigner(
  db: Database,
  seedCipher: FieldCipher,
  kind: KeyKind,
  id: string,
  keyName: string,
): Promise<NoteSigner> {
  const seed = await withSystem(db, async (tx) => {
    const fresh = generateEd25519Seed();
    const publicKey = ed25519RawPublicKey(ed25519PrivateKeyFromSeed(fresh));
    await tx.query(
      `INSERT INTO ledger_keys (id, kind, key_name, public_key, seed_enc) VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (id) DO NOTHING`,
      [id, kind, keyName, publicKey, seedCipher.encrypt(Buffer.from(fresh).toString('base64'))],
    );
    fresh.fill(0);
    const { rows } = await tx.query<{ key_name: string; seed_enc: Uint8Array }>(
      `SELECT key_name, seed_enc FROM ledger_keys WHERE id = $1`,
      [id],
    );
    const row = rows[0]!;
    if (row.key_name !== keyName) {
      throw new Error(
        `ledger key ${id} is named ${row.key_name}, not ${keyName}: LEDGER_ORIGIN changed after first start`,
      );
    }
    return new Uint8Array(Buffer.from(seedCipher.decrypt(row.seed_enc), 'base64'));
  });
  const signer = kind === 'log' ? createNoteSigner(keyName, seed) : createCosigner(keyName, seed);
  seed.fill(0);
  return signer;
}
