/**
 * Envelope encryption for stored images and reports (SPEC I5): each blob gets a fresh 256-bit
 * data key; the bytes are sealed with AES-256-GCM under it, and the data key is itself sealed
 * with the key-encryption key. The SHA-256 of the plaintext is bound in as additional
 * authenticated data, so a blob cannot be swapped for another under the same address.
 *
 * Layout (all lengths fixed):
 *   "SFE1" | keyId(4) | wrapIv(12) | wrapTag(16) | wrappedKey(32) | dataIv(12) | dataTag(16) | ciphertext
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

const MAGIC = Buffer.from('SFE1');
const HEADER = 4 + 4 + 12 + 16 + 32 + 12 + 16;

export class EnvelopeError extends Error {}

export function seal(plaintext: Uint8Array, kek: Buffer, keyId: Buffer, aad: Buffer): Buffer {
  const dataKey = randomBytes(32);
  const wrapIv = randomBytes(12);
  const wrap = createCipheriv('aes-256-gcm', kek, wrapIv);
  const wrappedKey = Buffer.concat([wrap.update(dataKey), wrap.final()]);
  const dataIv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', dataKey, dataIv);
  cipher.setAAD(aad);
  const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  dataKey.fill(0);
  return Buffer.concat([MAGIC, keyId, wrapIv, wrap.getAuthTag(), wrappedKey, dataIv, cipher.getAuthTag(), ciphertext]);
}

export function open(envelope: Buffer, kek: Buffer, aad: Buffer): Buffer {
  if (envelope.length < HEADER || !envelope.subarray(0, 4).equals(MAGIC)) {
    throw new EnvelopeError('Not a Scanflow envelope');
  }
  let offset = 8; // magic + key id
  const take = (n: number) => envelope.subarray(offset, (offset += n));
  const wrapIv = take(12);
  const wrapTag = take(16);
  const wrappedKey = take(32);
  const dataIv = take(12);
  const dataTag = take(16);
  try {
    const unwrap = createDecipheriv('aes-256-gcm', kek, wrapIv);
    unwrap.setAuthTag(wrapTag);
    const dataKey = Buffer.concat([unwrap.update(wrappedKey), unwrap.final()]);
    const decipher = createDecipheriv('aes-256-gcm', dataKey, dataIv);
    decipher.setAAD(aad);
    decipher.setAuthTag(dataTag);
    const body = decipher.update(envelope.subarray(HEADER));
    // GCM is a stream mode: final() adds no bytes, so the body needs no second copy (8 MB for a radiograph).
    const rest = decipher.final();
    const plaintext = rest.length === 0 ? body : Buffer.concat([body, rest]);
    dataKey.fill(0);
    return plaintext;
  } catch {
    throw new EnvelopeError('The envelope failed authentication (wrong key or altered bytes)');
  }
}
