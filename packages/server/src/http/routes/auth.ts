/**
 * /api/v1/auth: registration, sign-in, second factor, refresh, sign-out, TOTP enrolment.
 * Rate-limited per client address on top of the per-account lockout. The auth service writes
 * its own audit events (it knows who the actor turned out to be), so these routes declare none.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { errorReplies } from '../schemas.ts';
import { infoOf, sessionOf } from '../request-context.ts';

const Email = Type.String({ maxLength: 320 });
const Password = Type.String({ maxLength: 1024 });

const SignedInUser = Type.Object({
  id: Type.String(),
  orgId: Type.String(),
  role: Type.String(),
  clinicianVerified: Type.Boolean(),
  totpEnabled: Type.Boolean(),
  totpEnrolmentRequired: Type.Boolean(),
});

const Tokens = {
  accessToken: Type.String(),
  refreshToken: Type.String(),
  expiresIn: Type.Integer({ description: 'Seconds until the access token expires' }),
  tokenType: Type.Literal('Bearer'),
};

const SignedIn = Type.Object({ status: Type.Literal('signed_in'), ...Tokens, user: SignedInUser });
const Challenge = Type.Object({
  status: Type.Literal('second_factor_required'),
  challenge: Type.String({ description: 'Send with the code to /auth/totp/verify or /auth/email-code/verify' }),
  methods: Type.Array(Type.String()),
});

export const authRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const auth = app.services.auth;
  const limited = (max = app.ctx.config.authRateLimitPerMinute) => ({
    auth: false,
    audit: false as const,
    rateLimit: { max, timeWindow: '1 minute' },
  });

  app.post(
    '/register',
    {
      config: limited(),
      schema: {
        tags: ['auth'],
        summary: 'Register as a patient, or as a doctor or pharmacist awaiting licence verification',
        security: [],
        body: Type.Object({
          organisation: Type.String({ minLength: 1, maxLength: 63, description: 'The organisation slug, e.g. "demo"' }),
          email: Email,
          password: Password,
          name: Type.String({ minLength: 1, maxLength: 200 }),
          role: Type.Union([Type.Literal('patient'), Type.Literal('doctor'), Type.Literal('pharmacist')]),
          licenceNumber: Type.Optional(Type.String({ maxLength: 64 })),
          licenceJurisdiction: Type.Optional(Type.String({ maxLength: 100 })),
          dateOfBirth: Type.Optional(Type.String({ maxLength: 10, description: 'YYYY-MM-DD' })),
          sex: Type.Optional(
            Type.Union([Type.Literal('female'), Type.Literal('male'), Type.Literal('other'), Type.Literal('unknown')]),
          ),
        }),
        response: {
          201: Type.Object({ userId: Type.String(), role: Type.String(), clinicianVerified: Type.Boolean() }),
          ...errorReplies(400, 409, 429),
        },
      },
    },
    async (request, reply) => reply.status(201).send(await auth.register(request.body, infoOf(request))),
  );

  app.post(
    '/login',
    {
      config: limited(),
      schema: {
        tags: ['auth'],
        summary: 'Sign in with e-mail and password; returns tokens, or a second-factor challenge',
        security: [],
        body: Type.Object({ email: Email, password: Password }),
        response: { 200: Type.Union([SignedIn, Challenge]), ...errorReplies(400, 401, 403, 423, 429) },
      },
    },
    async (request) => auth.login(request.body.email, request.body.password, infoOf(request)),
  );

  app.post(
    '/totp/verify',
    {
      config: limited(),
      schema: {
        tags: ['auth'],
        summary: 'Complete sign-in with a TOTP code',
        security: [],
        body: Type.Object({ challenge: Type.String({ maxLength: 2048 }), code: Type.String({ maxLength: 16 }) }),
        response: { 200: SignedIn, ...errorReplies(400, 401, 423, 429) },
      },
    },
    async (request) => ({
      status: 'signed_in' as const,
      ...(await auth.verifyTotpChallenge(request.body.challenge, request.body.code, infoOf(request))),
    }),
  );

  app.post(
    '/email-code',
    {
      config: limited(5),
      schema: {
        tags: ['auth'],
        summary: 'Send a one-time sign-in code by e-mail (the fallback second factor)',
        security: [],
        body: Type.Object({ challenge: Type.String({ maxLength: 2048 }) }),
        response: { 202: Type.Object({ status: Type.Literal('sent') }), ...errorReplies(400, 401, 423, 429) },
      },
    },
    async (request, reply) => {
      await auth.requestEmailCode(request.body.challenge, infoOf(request));
      return reply.status(202).send({ status: 'sent' as const });
    },
  );

  app.post(
    '/email-code/verify',
    {
      config: limited(),
      schema: {
        tags: ['auth'],
        summary: 'Complete sign-in with the e-mailed code',
        security: [],
        body: Type.Object({ challenge: Type.String({ maxLength: 2048 }), code: Type.String({ maxLength: 16 }) }),
        response: { 200: SignedIn, ...errorReplies(400, 401, 423, 429) },
      },
    },
    async (request) => ({
      status: 'signed_in' as const,
      ...(await auth.verifyEmailCode(request.body.challenge, request.body.code, infoOf(request))),
    }),
  );

  app.post(
    '/refresh',
    {
      config: limited(120),
      schema: {
        tags: ['auth'],
        summary: 'Exchange a refresh token for new tokens (each refresh token works once)',
        security: [],
        body: Type.Object({ refreshToken: Type.String({ maxLength: 512 }) }),
        response: { 200: Type.Object(Tokens), ...errorReplies(400, 401, 429) },
      },
    },
    async (request) => auth.refresh(request.body.refreshToken, infoOf(request)),
  );

  app.post(
    '/logout',
    {
      config: { audit: false },
      schema: {
        tags: ['auth'],
        summary: 'Sign out: ends the session and every refresh token of it',
        response: { 204: Type.Null(), ...errorReplies(401) },
      },
    },
    async (request, reply) => {
      await auth.logout(sessionOf(request), infoOf(request));
      return reply.status(204).send(null);
    },
  );

  app.post(
    '/totp/enrol',
    {
      config: { audit: 'auth.totp_enrol_start' },
      schema: {
        tags: ['auth'],
        summary: 'Start TOTP enrolment: returns the secret and an otpauth:// URI for a QR code',
        response: { 200: Type.Object({ secret: Type.String(), otpauthUri: Type.String() }), ...errorReplies(401, 409) },
      },
    },
    async (request) => auth.beginTotpEnrolment(sessionOf(request)),
  );

  app.post(
    '/totp/confirm',
    {
      config: { audit: false },
      schema: {
        tags: ['auth'],
        summary: 'Confirm enrolment with a first code; returns an access token that carries the second factor',
        body: Type.Object({ code: Type.String({ maxLength: 16 }) }),
        response: {
          200: Type.Object({
            accessToken: Type.String(),
            expiresIn: Type.Integer(),
            tokenType: Type.Literal('Bearer'),
          }),
          ...errorReplies(400, 401, 409),
        },
      },
    },
    async (request) => auth.confirmTotpEnrolment(sessionOf(request), request.body.code, infoOf(request)),
  );

  app.get(
    '/me',
    {
      config: { audit: false },
      schema: {
        tags: ['auth'],
        summary: 'Who am I: the signed-in user as the server sees them now',
        response: {
          200: Type.Object({
            userId: Type.String(),
            orgId: Type.String(),
            role: Type.String(),
            clinicianVerified: Type.Boolean(),
            secondFactor: Type.Boolean(),
          }),
          ...errorReplies(401),
        },
      },
    },
    async (request) => {
      const { actor } = sessionOf(request);
      return {
        userId: actor.userId,
        orgId: actor.orgId,
        role: actor.role,
        clinicianVerified: actor.clinicianVerified,
        secondFactor: actor.mfa,
      };
    },
  );
};
