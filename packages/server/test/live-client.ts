/** A real WebSocket client of GET /api/v1/live (the `ws` package), for integration tests and the bench. */
import WebSocket from 'ws';

export interface LiveMessage {
  type: string;
  id?: number;
  kind?: string;
  at?: string;
  lastEventId?: number;
  data?: Record<string, unknown> & { scanId?: string };
  reason?: string;
}

export class TestLiveClient {
  readonly messages: LiveMessage[] = [];
  readonly closed: Promise<{ code: number; reason: string }>;
  private waiters: (() => void)[] = [];

  private constructor(readonly socket: WebSocket) {
    socket.on('message', (data) => {
      this.messages.push(JSON.parse((data as Buffer).toString('utf8')) as LiveMessage);
      this.waiters.forEach((wake) => wake());
    });
    this.closed = new Promise((resolve) => {
      socket.on('close', (code, reason) => {
        resolve({ code, reason: reason.toString() });
        this.waiters.forEach((wake) => wake());
      });
    });
  }

  /** Opens a connection; with a token, signs in (and resumes after `lastEventId`) and waits for "ready". */
  static async connect(url: string, token?: string, lastEventId?: number): Promise<TestLiveClient> {
    const socket = new WebSocket(url);
    await new Promise<void>((resolve, reject) => {
      socket.once('open', () => resolve());
      socket.once('error', reject);
    });
    const client = new TestLiveClient(socket);
    if (token) {
      client.send({ type: 'auth', token, ...(lastEventId === undefined ? {} : { lastEventId }) });
      await client.next((m) => m.type === 'ready');
    }
    return client;
  }

  send(message: unknown): void {
    this.socket.send(typeof message === 'string' ? message : JSON.stringify(message));
  }

  get events(): LiveMessage[] {
    return this.messages.filter((m) => m.type === 'event');
  }

  /** The first message (in arrival order) that matches, waiting up to `timeoutMs` for it. */
  async next(match: (m: LiveMessage) => boolean, timeoutMs = 5000): Promise<LiveMessage> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.messages.find(match);
      if (found) return found;
      const left = deadline - Date.now();
      if (left <= 0 || this.socket.readyState === WebSocket.CLOSED) {
        throw new Error(`no matching live message within ${timeoutMs} ms (got ${JSON.stringify(this.messages)})`);
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
      this.waiters = [];
    }
  }

  /** Waits `ms` and returns the events that arrived meanwhile and match (to prove absence). */
  async quietFor(ms: number, match: (m: LiveMessage) => boolean): Promise<LiveMessage[]> {
    await new Promise((resolve) => setTimeout(resolve, ms));
    return this.events.filter(match);
  }

  close(): void {
    this.socket.close();
  }
}
