/**
 * The live channel (GET /api/v1/live, protocol in packages/server/src/live/connection.ts): one
 * WebSocket per tab, authenticated by its first message (never the URL), reconnecting with
 * exponential back-off and resuming from the last event it saw, so nothing is lost across a drop.
 * While it is down, pages fall back to polling (`useLiveStatus() !== 'live'`).
 */
import { useEffect, useRef, useSyncExternalStore } from 'react';
import { freshAccessToken, onSessionChange, readSession } from './client.ts';
import type { LiveEvent } from './types.ts';

export type LiveStatus = 'connecting' | 'live' | 'offline';

/** Something every view should reload for: the server could not replay what was missed. */
export interface LiveReset {
  kind: 'reset';
}

type Listener = (event: LiveEvent | LiveReset) => void;

const PING_MS = 25_000;
const PONG_TIMEOUT_MS = 10_000;
const MAX_BACKOFF_MS = 30_000;
/** Close codes after which reconnecting cannot help (malformed, refused). */
const FATAL_CLOSE = new Set([4400, 4403]);

/** Back-off before reconnect attempt `n` (0-based): 0.5 s doubling to 30 s, with ±25% jitter. */
export function backoffMs(attempt: number, random = Math.random): number {
  const base = Math.min(MAX_BACKOFF_MS, 500 * 2 ** attempt);
  return Math.round(base * (0.75 + random() * 0.5));
}

class LiveChannel {
  private socket: WebSocket | null = null;
  private lastEventId: number | null = null;
  private attempt = 0;
  private wanted = false;
  private status: LiveStatus = 'offline';
  private readonly listeners = new Set<Listener>();
  private readonly statusListeners = new Set<() => void>();
  private timers: { retry?: number; ping?: number; pong?: number } = {};
  private unsubscribeSession: (() => void) | null = null;

  start(): void {
    if (this.wanted) return;
    this.wanted = true;
    // New tokens (a refresh in this tab or another) extend the open connection; no session, no channel.
    this.unsubscribeSession = onSessionChange((session) => {
      if (!session) this.stop();
      else if (this.socket?.readyState === WebSocket.OPEN) this.send({ type: 'auth', token: session.accessToken });
    });
    void this.connect();
  }

  stop(): void {
    this.wanted = false;
    this.unsubscribeSession?.();
    this.unsubscribeSession = null;
    this.clearTimers();
    const socket = this.socket;
    this.socket = null;
    socket?.close(1000, 'signed out');
    this.lastEventId = null;
    this.setStatus('offline');
  }

  subscribe(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  subscribeStatus(listener: () => void): () => void {
    this.statusListeners.add(listener);
    return () => this.statusListeners.delete(listener);
  }

  getStatus = (): LiveStatus => this.status;

  private setStatus(status: LiveStatus): void {
    if (status === this.status) return;
    this.status = status;
    for (const listener of this.statusListeners) listener();
  }

  private async connect(): Promise<void> {
    if (!this.wanted || !readSession()) return;
    this.setStatus('connecting');
    let token: string;
    try {
      token = await freshAccessToken();
    } catch {
      this.retry();
      return;
    }
    if (!this.wanted) return;
    const url = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/api/v1/live`;
    const socket = new WebSocket(url);
    this.socket = socket;
    socket.addEventListener('open', () => {
      this.send({ type: 'auth', token, ...(this.lastEventId !== null ? { lastEventId: this.lastEventId } : {}) });
    });
    socket.addEventListener('message', (message) => this.receive(message.data));
    socket.addEventListener('close', (event) => {
      if (this.socket !== socket) return;
      this.socket = null;
      this.clearTimers();
      if (!this.wanted) return;
      this.setStatus('offline');
      if (!FATAL_CLOSE.has(event.code)) this.retry();
    });
  }

  private retry(): void {
    if (!this.wanted) return;
    this.setStatus('offline');
    window.clearTimeout(this.timers.retry);
    this.timers.retry = window.setTimeout(() => void this.connect(), backoffMs(this.attempt++));
  }

  private send(message: object): void {
    if (this.socket?.readyState === WebSocket.OPEN) this.socket.send(JSON.stringify(message));
  }

  private receive(raw: unknown): void {
    if (typeof raw !== 'string') return;
    let message: { type?: string; id?: number; lastEventId?: number };
    try {
      message = JSON.parse(raw) as typeof message;
    } catch {
      return;
    }
    switch (message.type) {
      case 'event':
        if (typeof message.id === 'number') {
          // Replays after a resume can overlap what was already seen: each id is delivered once.
          if (this.lastEventId !== null && message.id <= this.lastEventId) return;
          this.lastEventId = message.id;
        }
        this.emit(message as unknown as LiveEvent);
        break;
      case 'ready':
        if (typeof message.lastEventId === 'number' && this.lastEventId === null) {
          this.lastEventId = message.lastEventId;
        }
        this.attempt = 0;
        this.setStatus('live');
        this.heartbeat();
        break;
      case 'reset':
        if (typeof message.lastEventId === 'number') this.lastEventId = message.lastEventId;
        this.emit({ kind: 'reset' });
        break;
      case 'pong':
        window.clearTimeout(this.timers.pong);
        break;
      case undefined:
      default:
        // Not a message of this protocol version: nothing to do with it.
        break;
    }
  }

  /** A silent network drop leaves a socket open forever: ping, and reconnect if no answer comes. */
  private heartbeat(): void {
    window.clearInterval(this.timers.ping);
    this.timers.ping = window.setInterval(() => {
      this.send({ type: 'ping' });
      window.clearTimeout(this.timers.pong);
      this.timers.pong = window.setTimeout(() => this.socket?.close(4000, 'no answer to ping'), PONG_TIMEOUT_MS);
    }, PING_MS);
  }

  private clearTimers(): void {
    window.clearTimeout(this.timers.retry);
    window.clearInterval(this.timers.ping);
    window.clearTimeout(this.timers.pong);
    this.timers = {};
  }

  private emit(event: LiveEvent | LiveReset): void {
    for (const listener of this.listeners) {
      try {
        listener(event);
      } catch (error) {
        console.error('Live event handler failed', error);
      }
    }
  }
}

export const live = new LiveChannel();

/** Whether updates arrive live; pages poll when they do not. */
export function useLiveStatus(): LiveStatus {
  return useSyncExternalStore((callback) => live.subscribeStatus(callback), live.getStatus);
}

/** Calls `handler` (the latest one rendered) for every live event and reset. */
export function useLiveEvents(handler: Listener): void {
  const latest = useRef(handler);
  latest.current = handler;
  useEffect(() => live.subscribe((event) => latest.current(event)), []);
}
