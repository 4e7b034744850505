/**
 * Encryption of personal data inside database rows (names, e-mail addresses, dates of birth,
 * clinical free text): AES-256-GCM with a random IV per value. Lookups (find a user by e-mail,
 * a patient by Patient ID) use a keyed HMAC of the normalised value instead of the value itself.
 */
import { createCipheriv, createDecipheriv, createHmac, randomBytes } from 'node:crypto';

const VERSION = 1;

export class FieldCipher {
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
