import { randomBytes, randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { TokenService } from './tokens.ts';

describe('TokenService', () => {
  const tokens = new TokenService(randomBytes(32), 900);
  const claims = {
    userId: randomUUID(),
    orgId: randomUUID(),
    role: 'patient' as const,
    sessionId: randomUUID(),
    mfa: false,
  };

  it('issues a different access token every time, even for the same session within one second', async () => {
    // A web client tells a renewed token from the one it had by comparing them; identical text
    // for a sign-in and an immediate refresh would make it refresh twice.
    const issued = await Promise.all([1, 2, 3].map(() => tokens.issueAccess(claims)));
    expect(new Set(issued).size).toBe(3);
    for (const token of issued) expect(await tokens.verifyAccess(token)).toEqual(claims);
  });

  it('refuses a token signed with another key, and a challenge used as an access token', async () => {
    const other = await new TokenService(randomBytes(32), 900).issueAccess(claims);
    await expect(tokens.verifyAccess(other)).rejects.toThrow(/not valid/);
    const challenge = await tokens.issueChallenge({ userId: claims.userId, orgId: claims.orgId });
    await expect(tokens.verifyAccess(challenge)).rejects.toThrow(/not valid/);
  });
});
