/**
 * One per process: follows the live-event log and fans each event out to this process's
 * connections. Every process sharing a PostgreSQL server LISTENs on one channel; a NOTIFY (sent at
 * commit by the log's trigger, payload the event id only) makes each process read what is new in id
 * order, so an event produced by any process reaches every client of every process. A slow poll
 * covers notifications lost while a listening connection was being replaced.
 */
import type { AppContext } from '../context.ts';
import { LruCache } from '../services/lru-cache.ts';
import { describe, eventBounds, eventsAfter, LIVE_CHANNEL, pruneEvents, type LiveEvent } from './events.ts';

const SESSION_ENDED_CHANNEL = 'scanflow_session_ended';

/** A connection as the hub sees it (live/connection.ts). */
export interface LiveClient {
  readonly orgId: string | null;
  deliver(event: LiveEvent): void;
  /** Checks the session again (revocations, expiry); closes the connection if it has ended. */
  recheck(): Promise<void>;
  heartbeat(): void;
  /** Closes the connection if it belongs to this session, which has just been revoked. */
  sessionEnded(sessionId: string): void;
}

export interface LiveHubOptions {
  /** How often sessions are re-checked even without a revocation signal (another process's logout). */
  sessionCheckMs: number;
  /** How long events are kept for resuming clients. */
  retentionSeconds: number;
  /** Fallback read of the log when no notification came. */
  pollMs?: number;
  heartbeatMs?: number;
  /** Where failures to read or describe an event are reported (never personal data). */
  onError?: (error: unknown, what: string) => void;
}

const PAGE = 500;
/** A client further behind than this is told to reload rather than replayed event by event. */
export const MAX_REPLAY = 10_000;

export type ReplayResult = { lastId: number; complete: true } | { lastId: number; complete: false };

export class LiveHub {
  private readonly clients = new Set<LiveClient>();
  /** The last event this process has fanned out. */
  private position = 0;
  private pulling: Promise<void> | null = null;
  private pullAgain = false;
  private readonly described = new LruCache<number, Promise<LiveEvent>>(4_000, () => 1);
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly stopListening: (() => Promise<void>)[] = [];
  private readonly onRevoked = () => void this.recheckAll();
  stopped = false;

  constructor(
    private readonly ctx: AppContext,
    private readonly options: LiveHubOptions,
  ) {}

  async start(): Promise<void> {
    this.position = (await eventBounds(this.ctx)).latest;
    this.stopListening.push(
      await this.ctx.db.listen(
        LIVE_CHANNEL,
        () => void this.pull(),
        () => void this.pull(),
      ),
      // Sign-outs and revocations in any process (trigger in 0008_collaboration.sql).
      await this.ctx.db.listen(SESSION_ENDED_CHANNEL, (sessionId) =>
        this.clients.forEach((c) => c.sessionEnded(sessionId)),
      ),
    );
    this.ctx.signals.on('sessions-revoked', this.onRevoked);
    const every = (ms: number, fn: () => unknown) => {
      const timer = setInterval(() => void Promise.resolve(fn()).catch(() => undefined), ms);
      timer.unref();
      this.timers.push(timer);
    };
    every(this.options.pollMs ?? 2_000, () => this.pull());
    every(this.options.sessionCheckMs, () => this.recheckAll());
    every(this.options.heartbeatMs ?? 30_000, () => this.clients.forEach((c) => c.heartbeat()));
    every(60_000, () => pruneEvents(this.ctx, this.options.retentionSeconds));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.timers.forEach(clearInterval);
    this.ctx.signals.off('sessions-revoked', this.onRevoked);
    await Promise.all(this.stopListening.map((stop) => stop()));
    await this.pulling;
  }

  get connections(): number {
    return this.clients.size;
  }

  /** The last event fanned out by this process: where a client without a resume point starts. */
  get latest(): number {
    return this.position;
  }

  add(client: LiveClient): void {
    this.clients.add(client);
  }

  remove(client: LiveClient): void {
    this.clients.delete(client);
  }

  private recheckAll(): Promise<unknown> {
    return Promise.allSettled([...this.clients].map((c) => c.recheck()));
  }

  /** Reads and fans out everything new; concurrent calls fold into one more pass. */
  pull(): Promise<void> {
    if (this.stopped) return Promise.resolve();
    if (this.pulling) {
      this.pullAgain = true;
      return this.pulling;
    }
    this.pulling = (async () => {
      try {
        do {
          this.pullAgain = false;
          for (;;) {
            const rows = await eventsAfter(this.ctx, this.position, PAGE);
            for (const row of rows) {
              // Nobody here to tell: described later only if a resuming client asks (replay).
              if (this.clients.size === 0) {
                this.position = row.id;
                continue;
              }
              // One event that cannot be described must not stop the ones after it.
              const event = await this.describe(row).catch((error: unknown) => {
                this.options.onError?.(error, `live event ${row.id} (${row.kind})`);
                return null;
              });
              this.position = row.id;
              if (!event) continue;
              for (const client of this.clients) if (client.orgId === event.orgId) client.deliver(event);
            }
            if (rows.length < PAGE) break;
          }
        } while (this.pullAgain && !this.stopped);
      } finally {
        this.pulling = null;
      }
    })();
    this.pulling.catch((error: unknown) => this.options.onError?.(error, 'reading the live-event log'));
    return this.pulling;
  }

  private describe(row: Parameters<typeof describe>[1]): Promise<LiveEvent> {
    let event = this.described.get(row.id);
    if (!event) {
      event = describe(this.ctx, row);
      this.described.set(row.id, event);
      event.catch(() => this.described.delete(row.id));
    }
    return event;
  }

  /**
   * Everything after `afterId` for one organisation, oldest first, to a resuming client. Not
   * complete when the client is further behind than what is kept (or than MAX_REPLAY): it must
   * reload instead; `lastId` is then where it continues live from.
   */
  async replay(orgId: string, afterId: number, visit: (event: LiveEvent) => void): Promise<ReplayResult> {
    const { latest, oldest } = await eventBounds(this.ctx);
    if (afterId > latest) return { lastId: latest, complete: false };
    const tooOld = oldest !== null ? afterId < oldest - 1 : afterId < latest;
    if (tooOld || latest - afterId > MAX_REPLAY) return { lastId: latest, complete: false };
    let cursor = afterId;
    for (;;) {
      const rows = await eventsAfter(this.ctx, cursor, PAGE);
      for (const row of rows) {
        cursor = row.id;
        if (row.org_id === orgId) visit(await this.describe(row));
      }
      if (rows.length < PAGE) return { lastId: cursor, complete: true };
    }
  }
}
