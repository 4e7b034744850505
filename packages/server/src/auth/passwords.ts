/**
 * Password hashing with Argon2id (RFC 9106), at the OWASP-recommended cost (19 MiB, 2 passes).
 */
import { hash, verify } from '@node-rs/argon2';
import { AppError } from '@scanflow/domain';

// `algorithm: 2` is Algorithm.Argon2id (a const enum, which isolated modules cannot import).
const OPTIONS = { algorithm: 2, memoryCost: 19_456, timeCost: 2, parallelism: 1 } as const;

export const MIN_PASSWORD_LENGTH = 10;
// Long inputs cost hashing time; no human password needs more.
export const MAX_PASSWORD_LENGTH = 256;

export function assertAcceptablePassword(password: string): void {
  if (password.length < MIN_PASSWORD_LENGTH) {
    throw new AppError('validation_failed', `The password must have at least ${MIN_PASSWORD_LENGTH} characters`);
  }
  if (password.length > MAX_PASSWORD_LENGTH) {
    throw new AppError('validation_failed', `The password must have at most ${MAX_PASSWORD_LENGTH} characters`);
  }
}

export const hashPassword = (password: string): Promise<string> => hash(password, OPTIONS);

// Verifying against this when the account does not exist keeps the response time the same,
// so timing does not reveal which e-mail addresses have accounts.
let decoyHash: Promise<string> | undefined;

export async function verifyPassword(storedHash: string | null, password: string): Promise<boolean> {
  if (password.length > MAX_PASSWORD_LENGTH) return false;
  const target = storedHash ?? (await (decoyHash ??= hashPassword('decoy-password-for-timing')));
  const ok = await verify(target, password).catch(() => false);
  return storedHash !== null && ok;
}
