/**
 * Signed tokens. Access tokens are short-lived JWTs (HS256, at most 15 minutes) naming the user,
 * organisation, session and whether a second factor was passed. Second-factor challenges are
 * separate JWTs with their own audience, so one can never be used as the other. Only HS256 is
 * accepted: "alg: none" and every other algorithm are refused by jose before any claim is read.
 *
 * Refresh tokens are opaque random strings; only their SHA-256 is stored (see auth-service.ts).
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { errors, jwtVerify, SignJWT } from 'jose';
import { isRole, isCanonicalUuid, unauthorized, type Role } from '@scanflow/domain';

const ISSUER = 'scanflow';
const ACCESS_AUDIENCE = 'scanflow-api';
const CHALLENGE_AUDIENCE = 'scanflow-second-factor';

export interface AccessClaims {
  userId: string;
  orgId: string;
  role: Role;
  sessionId: string;
  mfa: boolean;
}

export interface ChallengeClaims {
  userId: string;
  orgId: string;
}

export class TokenService {
  constructor(
    private readonly key: Uint8Array,
    readonly accessTtlSeconds: number,
    readonly challengeTtlSeconds = 300,
  ) {}

  issueAccess(claims: AccessClaims): Promise<string> {
    return (
      new SignJWT({ org: claims.orgId, role: claims.role, sid: claims.sessionId, mfa: claims.mfa })
        .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
        // A unique id, so that two tokens issued for one session within a second (a sign-in and an
        // immediate refresh) are still different tokens: clients tell a renewed token from the old one.
        .setJti(randomUUID())
        .setSubject(claims.userId)
        .setIssuer(ISSUER)
        .setAudience(ACCESS_AUDIENCE)
        .setIssuedAt()
        .setExpirationTime(`${this.accessTtlSeconds}s`)
        .sign(this.key)
    );
  }

  /**
   * A client sends the same access token with every request for up to 15 minutes; a token whose
   * signature was verified once is remembered (by its full text) until it expires, so each
   * request does not pay for HMAC verification again. Expiry is checked on every hit.
   */
  private readonly verified = new Map<string, { claims: AccessClaims; expiresAt: number }>();
  private static readonly VERIFIED_CACHE_ENTRIES = 10_000;

  async verifyAccess(token: string): Promise<AccessClaims> {
    const hit = this.verified.get(token);
    if (hit) {
      if (hit.expiresAt > Date.now()) return hit.claims;
      this.verified.delete(token);
      throw unauthorized('The token has expired');
    }
    const payload = await this.verify(token, ACCESS_AUDIENCE);
    const { sub, org, role, sid, mfa } = payload;
    if (
      typeof sub !== 'string' ||
      !isCanonicalUuid(sub) ||
      typeof org !== 'string' ||
      !isCanonicalUuid(org) ||
      typeof sid !== 'string' ||
      !isCanonicalUuid(sid) ||
      !isRole(role) ||
      typeof mfa !== 'boolean'
    ) {
      throw unauthorized('The access token is malformed');
    }
    const claims = { userId: sub, orgId: org, role, sessionId: sid, mfa };
    if (this.verified.size >= TokenService.VERIFIED_CACHE_ENTRIES) this.verified.clear();
    this.verified.set(token, { claims, expiresAt: (payload.exp ?? 0) * 1000 });
    return claims;
  }

  issueChallenge(claims: ChallengeClaims): Promise<string> {
    return new SignJWT({ org: claims.orgId })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setSubject(claims.userId)
      .setIssuer(ISSUER)
      .setAudience(CHALLENGE_AUDIENCE)
      .setIssuedAt()
      .setExpirationTime(`${this.challengeTtlSeconds}s`)
      .sign(this.key);
  }

  async verifyChallenge(token: string): Promise<ChallengeClaims> {
    const { sub, org } = await this.verify(token, CHALLENGE_AUDIENCE);
    if (typeof sub !== 'string' || !isCanonicalUuid(sub) || typeof org !== 'string' || !isCanonicalUuid(org)) {
      throw unauthorized('The second-factor challenge is malformed');
    }
    return { userId: sub, orgId: org };
  }

  private async verify(token: string, audience: string) {
    try {
      const { payload } = await jwtVerify(token, this.key, { algorithms: ['HS256'], issuer: ISSUER, audience });
      return payload;
    } catch (error) {
      if (error instanceof errors.JWTExpired) throw unauthorized('The token has expired');
      throw unauthorized('The token is not valid');
    }
  }
}

export const newRefreshToken = (): string => randomBytes(32).toString('base64url');
export const hashToken = (token: string): Buffer => createHash('sha256').update(token).digest();
