/**
 * TOTP second factor (RFC 6238: SHA-1, 6 digits, 30-second steps, as every authenticator app
 * expects). A code is accepted one step either side for clock drift, and never twice: the last
 * accepted time step is stored and later codes must be newer (replay protection).
 */
import { generate, generateSecret, generateURI, verify } from 'otplib';

export const newTotpSecret = (): string => generateSecret({ length: 20 });

export const totpUri = (secret: string, accountName: string, issuer = 'Scanflow'): string =>
  generateURI({ issuer, label: accountName, secret });

export async function checkTotp(
  secret: string,
  code: string,
  lastAcceptedStep: number | null,
): Promise<{ ok: true; step: number } | { ok: false }> {
  if (!/^\d{6}$/.test(code)) return { ok: false };
  const result = await verify({
    secret,
    token: code,
    epochTolerance: 30,
    ...(lastAcceptedStep !== null ? { afterTimeStep: lastAcceptedStep } : {}),
  }).catch(() => ({ valid: false as const }));
  return result.valid && 'timeStep' in result ? { ok: true, step: result.timeStep } : { ok: false };
}

/** For tests and the CLI's demo output: the code an authenticator would show now. */
export const currentTotp = (secret: string): Promise<string> => generate({ secret });
