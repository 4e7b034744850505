/**
 * One WebSocket client of the live channel. The protocol, in JSON text frames:
 *
 *   client → {"type":"auth","token":"<access token>","lastEventId":123}   first, within AUTH_TIMEOUT_MS;
 *            lastEventId (optional) resumes after that event. Sent again later with a fresh token,
 *            it extends the connection past the old token's expiry (same session only).
 *   client → {"type":"ping"}                                   server → {"type":"pong"}
 *   server → {"type":"event","id":124,"kind":"scan.status","at":"…","data":{…}}
 *   server → {"type":"ready","lastEventId":130}                after authentication and any replay
 *   server → {"type":"reset","lastEventId":130,"reason":"…"}   the resume point is no longer kept:
 *                                                               reload what is shown, continue from here
 *
 * The token travels in a message, never in the URL (URLs are logged). The connection closes with
 * a code and a reason a person can read: 4400 malformed message, 4401 not (or no longer) signed
 * in, 4403 refused, 1009 message too big, 1013 too far behind (reconnect and resume).
 */
import { decodeJwt } from 'jose';
import type { FastifyBaseLogger } from 'fastify';
import type { WebSocket } from 'ws';
import { AppError, decide, type Actor } from '@scanflow/domain';
import type { AppContext } from '../context.ts';
import type { AuthService } from '../services/auth-service.ts';
import { mayReceive } from './audience.ts';
import type { LiveEvent } from './events.ts';
import type { LiveClient, LiveHub } from './hub.ts';

export const MAX_CLIENT_FRAME_BYTES = 16 * 1024;
const AUTH_TIMEOUT_MS = 10_000;
/** Unsent data beyond this means the client cannot keep up: it should reconnect and resume. */
const MAX_BUFFERED_BYTES = 4 * 1024 * 1024;

export const CLOSE = {
  malformed: 4400,
  unauthorized: 4401,
  forbidden: 4403,
  tooBig: 1009,
  behind: 1013,
} as const;

type State = 'awaiting-auth' | 'catching-up' | 'live' | 'closed';

interface Session {
  actor: Actor;
  sessionId: string;
  token: string;
}

/** A close reason fits in a control frame (123 bytes). */
const reasonText = (text: string) => (Buffer.byteLength(text) <= 123 ? text : `${text.slice(0, 110)}…`);

export class LiveConnection implements LiveClient {
  private state: State = 'awaiting-auth';
  private session: Session | null = null;
  /** The newest event id this connection has been given (or deliberately passed over). */
  private cursor = 0;
  private buffered: LiveEvent[] = [];
  private alive = true;
  private readonly timers: { auth?: NodeJS.Timeout; expiry?: NodeJS.Timeout } = {};
  private work: Promise<void> = Promise.resolve();

  constructor(
    private readonly socket: WebSocket,
    private readonly hub: LiveHub,
    private readonly ctx: AppContext,
    private readonly auth: AuthService,
    private readonly clientAddress: string,
    private readonly log: FastifyBaseLogger,
  ) {
    this.timers.auth = setTimeout(
      () => this.close(CLOSE.unauthorized, 'Send {"type":"auth","token":"<access token>"} first, within 10 s'),
      AUTH_TIMEOUT_MS,
    );
    socket.on('message', (data, isBinary) => this.receive(data, isBinary));
    socket.on('pong', () => (this.alive = true));
    socket.on('close', () => this.closed());
    socket.on('error', () => this.closed());
  }

  get orgId(): string | null {
    return this.session?.actor.orgId ?? null;
  }

  private receive(data: Buffer | Buffer[] | ArrayBuffer, isBinary: boolean): void {
    const size = Array.isArray(data) ? data.reduce((n, b) => n + b.length, 0) : data.byteLength;
    if (size > MAX_CLIENT_FRAME_BYTES) {
      return this.close(CLOSE.tooBig, `Message too big: at most ${MAX_CLIENT_FRAME_BYTES} bytes`);
    }
    if (isBinary) return this.close(CLOSE.malformed, 'Send JSON text frames, not binary');
    let message: unknown;
    try {
      message = JSON.parse(
        Buffer.isBuffer(data) ? data.toString('utf8') : Buffer.from(data as ArrayBuffer).toString('utf8'),
      );
    } catch {
      return this.close(CLOSE.malformed, 'Malformed message: not JSON');
    }
    // One message at a time, in order (authentication is asynchronous).
    this.work = this.work.then(() => this.handle(message)).catch((error: unknown) => this.fail(error));
  }

  private async handle(message: unknown): Promise<void> {
    if (this.state === 'closed') return;
    const type = typeof message === 'object' && message !== null ? (message as { type?: unknown }).type : undefined;
    if (type === 'ping') return this.send('{"type":"pong"}');
    if (type !== 'auth') {
      return this.close(CLOSE.malformed, 'Malformed message: type must be "auth" or "ping"');
    }
    const { token, lastEventId } = message as { token?: unknown; lastEventId?: unknown };
    if (typeof token !== 'string' || token.length === 0 || token.length > 4096) {
      return this.close(CLOSE.malformed, 'Malformed message: "token" must be an access token');
    }
    if (lastEventId !== undefined && !(Number.isSafeInteger(lastEventId) && (lastEventId as number) >= 0)) {
      return this.close(CLOSE.malformed, 'Malformed message: "lastEventId" must be a non-negative integer');
    }
    if (this.state === 'awaiting-auth') return this.authenticate(token, lastEventId as number | undefined);
    return this.renew(token);
  }

  private async authenticate(token: string, lastEventId: number | undefined): Promise<void> {
    clearTimeout(this.timers.auth);
    const session = await this.auth.authenticate(token);
    const decision = decide(session.actor, 'live.subscribe', { kind: 'organisation', orgId: session.actor.orgId });
    await this.audit(session.actor, decision.allow ? 'success' : 'denied');
    if (!decision.allow) return this.close(CLOSE.forbidden, decision.reason);
    if (this.state === 'closed') return;
    this.session = { actor: session.actor, sessionId: session.sessionId, token };
    this.scheduleExpiry(token);
    await this.catchUp(lastEventId);
  }

  /**
   * Joins the hub first (buffering what it fans out meanwhile), replays what the client missed
   * from the log, then sends the buffer past the replay: in order, nothing twice, nothing lost.
   */
  private async catchUp(lastEventId: number | undefined): Promise<void> {
    this.state = 'catching-up';
    this.cursor = this.hub.latest;
    this.hub.add(this);
    const actor = this.session!.actor;
    const replay = await this.hub.replay(actor.orgId, lastEventId ?? this.cursor, (event) => this.offer(event));
    this.cursor = Math.max(this.cursor, replay.lastId);
    if (!replay.complete && lastEventId !== undefined) {
      this.send(
        JSON.stringify({
          type: 'reset',
          lastEventId: this.cursor,
          reason: 'Events after your last id are no longer kept; reload what you show',
        }),
      );
    }
    const pending = this.buffered;
    this.buffered = [];
    // The socket may have closed while the replay was read.
    if ((this.state as State) === 'closed') return;
    this.state = 'live';
    for (const event of pending) this.deliver(event);
    this.send(JSON.stringify({ type: 'ready', lastEventId: this.cursor }));
  }

  /** A fresh token for the same session keeps the connection open past the old one's expiry. */
  private async renew(token: string): Promise<void> {
    const session = await this.auth.authenticate(token);
    if (session.sessionId !== this.session?.sessionId) {
      return this.close(CLOSE.unauthorized, 'A renewed token must belong to the same session');
    }
    this.session = { actor: session.actor, sessionId: session.sessionId, token };
    this.scheduleExpiry(token);
  }

  private scheduleExpiry(token: string): void {
    clearTimeout(this.timers.expiry);
    const exp = decodeJwt(token).exp ?? 0;
    const ms = Math.min(Math.max(exp * 1000 - Date.now(), 0), 2 ** 31 - 1);
    this.timers.expiry = setTimeout(
      () =>
        this.close(CLOSE.unauthorized, 'The access token expired: refresh it and reconnect (or send a new one first)'),
      ms,
    );
  }

  async recheck(): Promise<void> {
    if (!this.session || this.state === 'closed') return;
    try {
      const session = await this.auth.authenticate(this.session.token);
      this.session.actor = session.actor;
    } catch (error) {
      this.fail(error);
    }
  }

  sessionEnded(sessionId: string): void {
    if (this.session?.sessionId === sessionId) this.close(CLOSE.unauthorized, 'The session has ended; sign in again');
  }

  /** An event from the hub (or from the replay): sent once, in id order, if the policy allows. */
  deliver(event: LiveEvent): void {
    if (this.state === 'catching-up') {
      this.buffered.push(event);
      return;
    }
    if (this.state !== 'live' || event.id <= this.cursor) return;
    this.cursor = event.id;
    if (mayReceive(this.session!.actor, event)) this.send(event.frame);
  }

  private offer(event: LiveEvent): void {
    if (this.state === 'closed') return;
    if (mayReceive(this.session!.actor, event)) this.send(event.frame);
  }

  heartbeat(): void {
    if (!this.alive) {
      this.socket.terminate();
      return;
    }
    this.alive = false;
    this.socket.ping();
  }

  private send(frame: string | Buffer): void {
    if (this.state === 'closed') return;
    if (this.socket.bufferedAmount > MAX_BUFFERED_BYTES) {
      return this.close(CLOSE.behind, 'Too far behind: reconnect and resume from your last event id');
    }
    this.socket.send(frame, { binary: false });
  }

  private fail(error: unknown): void {
    if (error instanceof AppError) {
      const code = error.status === 401 ? CLOSE.unauthorized : error.status === 403 ? CLOSE.forbidden : CLOSE.malformed;
      if (!this.session) void this.audit(null, 'denied');
      return this.close(code, error.message);
    }
    this.log.error({ err: error }, 'live connection failed');
    this.close(1011, 'The server could not handle this connection; reconnect');
  }

  private audit(actor: Actor | null, outcome: 'success' | 'denied'): Promise<void> {
    return this.ctx.audit
      .record({
        orgId: actor?.orgId ?? null,
        actorUserId: actor?.userId ?? null,
        actorRole: actor?.role ?? null,
        action: 'live.connect',
        resourceType: 'live',
        outcome,
        clientAddress: this.clientAddress,
      })
      .catch(() => undefined);
  }

  close(code: number, reason: string): void {
    if (this.state === 'closed') return;
    this.closed();
    this.socket.close(code, reasonText(reason));
  }

  private closed(): void {
    this.state = 'closed';
    clearTimeout(this.timers.auth);
    clearTimeout(this.timers.expiry);
    this.buffered = [];
    this.hub.remove(this);
  }
}
