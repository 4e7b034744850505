/**
 * Encryption of personal data inside database rows (names, e-mail addresses, dates of birth,
 * clinical free text): AES-256-GCM with a random IV per value. Lookups (find a user by e-mail,
 * a patient by Patient ID) use a keyed HMAC of the normalised value instead of the value itself.
 */
import { createCipheriv, createDecipheriv, createHmac, randomBytes } from 'node:crypto';

const VERSION = 1;

export class FieldCipher {
  private static readonly CACHE_ENTRIES = 10_000;
  private readonly cache = new Map<string, string>();

  constructor(
    private readonly key: Buffer,
    private readonly lookupKey: Buffer,
  ) {}

  encrypt(value: string): Buffer {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    const ciphertext = Buffer.concat([cipher.update(value, 'utf8'), cipher.final()]);
    return Buffer.concat([Buffer.from([VERSION]), iv, cipher.getAuthTag(), ciphertext]);
  }

  decrypt(sealed: Uint8Array): string {
    const buf = Buffer.from(sealed);
    if (buf[0] !== VERSION || buf.length < 29) throw new Error('Unreadable encrypted field');
    const decipher = createDecipheriv('aes-256-gcm', this.key, buf.subarray(1, 13));
    decipher.setAuthTag(buf.subarray(13, 29));
    return Buffer.concat([decipher.update(buf.subarray(29)), decipher.final()]).toString('utf8');
  }

  /**
   * For values shown over and over (a patient's name on every worklist page): decrypted once,
   * then served from a bounded in-memory cache keyed by the ciphertext itself.
   */
  decryptCached(sealed: Uint8Array): string {
    const key = Buffer.from(sealed).toString('latin1');
    const hit = this.cache.get(key);
    if (hit !== undefined) {
      this.cache.delete(key);
      this.cache.set(key, hit);
      return hit;
    }
    const value = this.decrypt(sealed);
    this.cache.set(key, value);
    if (this.cache.size > FieldCipher.CACHE_ENTRIES) this.cache.delete(this.cache.keys().next().value!);
    return value;
  }

  encryptJson(value: unknown): Buffer {
    return this.encrypt(JSON.stringify(value));
  }

  decryptJson<T>(sealed: Uint8Array): T {
    return JSON.parse(this.decrypt(sealed)) as T;
  }

  /** Optional columns: null stays null. */
  maybeDecrypt(sealed: Uint8Array | null | undefined): string | null {
    return sealed ? this.decrypt(sealed) : null;
  }

  lookup(kind: 'email' | 'mrn', value: string): Buffer {
    const normalised = kind === 'email' ? value.trim().toLowerCase() : value.trim();
    return createHmac('sha256', this.lookupKey).update(`${kind}:${normalised}`).digest();
  }
}
