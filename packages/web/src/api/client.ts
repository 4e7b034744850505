/**
 * The one API client: typed calls to /api/v1, the session's tokens, and refresh.
 *
 * Tokens live in localStorage so that every tab shares one session. Refresh tokens rotate (each
 * works once), so a refresh is single-flight within a tab and serialised across tabs with the Web
 * Locks API: whoever gets the lock second finds the tokens already renewed and uses them instead of
 * spending the old refresh token a second time (which the server would treat as reuse). "Already
 * renewed" is judged by the refresh token, which is random and new at every rotation, and read
 * from IndexedDB as well as localStorage, which another tab can see late (see token-handover.ts).
 */
import type {
  AdminUser,
  Annotation,
  CaseMessage,
  Person,
  SecondOpinion,
  AuditEvent,
  AuditQuery,
  Checkpoint,
  Delivery,
  IntegrityAlert,
  SecuritySignals,
  LoginResult,
  OutboxMessage,
  Page,
  RegisterInput,
  ScanDetail,
  ScanSummary,
  SignedIn,
  SignedInUser,
  StatusCount,
  Tokens,
  TransitionInput,
  WorklistQuery,
} from './types.ts';
import { forgetRenewals, recordRenewal, tokensThatReplaced } from './token-handover.ts';

const BASE = '/api/v1';
const STORAGE_KEY = 'scanflow.session';
const LOCK_NAME = 'scanflow.refresh';

/** An error the API answered with (`{error:{code,message}}`), or one met on the way there. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

export const SESSION_EXPIRED_MESSAGE = 'Your session has expired. Please sign in again.';

export interface StoredSession {
  accessToken: string;
  refreshToken: string;
  /** Epoch milliseconds when the access token stops working. */
  accessExpiresAt: number;
  user: SignedInUser;
  email: string;
}

// ---------------------------------------------------------------- session storage

function isStoredSession(value: unknown): value is StoredSession {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  return typeof v.accessToken === 'string' && typeof v.refreshToken === 'string' && typeof v.user === 'object';
}

export function readSession(): StoredSession | null {
  try {
    const raw = localStorage.getItem(STORAGE_KEY);
    if (!raw) return null;
    const parsed: unknown = JSON.parse(raw);
    return isStoredSession(parsed) ? parsed : null;
  } catch {
    return null;
  }
}

function writeSession(session: StoredSession | null): void {
  if (session) localStorage.setItem(STORAGE_KEY, JSON.stringify(session));
  else localStorage.removeItem(STORAGE_KEY);
  notify(session, null);
}

type SessionListener = (session: StoredSession | null, reason: string | null) => void;
const listeners = new Set<SessionListener>();

function notify(session: StoredSession | null, reason: string | null): void {
  for (const listener of listeners) listener(session, reason);
}

/** Called with the new session (or null and why) whenever it changes, in this tab or another. */
export function onSessionChange(listener: SessionListener): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

if (typeof window !== 'undefined') {
  window.addEventListener('storage', (event) => {
    if (event.key !== STORAGE_KEY) return;
    const session = readSession();
    notify(session, session ? null : 'You were signed out in another tab.');
  });
}

/** Ends the session locally, telling the app why (shown on the sign-in page). */
export function endSession(reason: string | null): void {
  localStorage.removeItem(STORAGE_KEY);
  void forgetRenewals();
  notify(null, reason);
}

function startSession(signedIn: SignedIn, email: string): StoredSession {
  const session: StoredSession = {
    accessToken: signedIn.accessToken,
    refreshToken: signedIn.refreshToken,
    accessExpiresAt: Date.now() + signedIn.expiresIn * 1000,
    user: signedIn.user,
    email,
  };
  writeSession(session);
  return session;
}

// ---------------------------------------------------------------- refresh

/** What a refresh came to: new tokens, a refusal (the session is over), or no answer (try later). */
type RefreshOutcome = 'renewed' | 'rejected' | 'unavailable';

let refreshing: Promise<RefreshOutcome> | null = null;

async function withRefreshLock<T>(run: () => Promise<T>): Promise<T> {
  if (typeof navigator !== 'undefined' && 'locks' in navigator) {
    return navigator.locks.request(LOCK_NAME, run);
  }
  return run();
}

async function doRefresh(stale: StoredSession): Promise<RefreshOutcome> {
  return withRefreshLock(async () => {
    const current = readSession();
    if (!current) return 'rejected';
    // Another tab (or an earlier call) renewed the tokens while we waited for the lock.
    if (current.refreshToken !== stale.refreshToken) return 'renewed';
    // ...and this tab's copy of localStorage may not show it yet; IndexedDB does.
    const handedOver = await tokensThatReplaced(current.refreshToken);
    if (handedOver) {
      writeSession({ ...current, ...handedOver });
      return 'renewed';
    }
    let response: Response;
    try {
      response = await fetch(`${BASE}/auth/refresh`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ refreshToken: current.refreshToken }),
      });
    } catch {
      return 'unavailable';
    }
    // A refusal ends the session; being rate-limited or a server error does not.
    if (response.status === 400 || response.status === 401 || response.status === 403) return 'rejected';
    if (!response.ok) return 'unavailable';
    const tokens = (await response.json()) as Tokens;
    const renewed = {
      accessToken: tokens.accessToken,
      refreshToken: tokens.refreshToken,
      accessExpiresAt: Date.now() + tokens.expiresIn * 1000,
    };
    writeSession({ ...current, ...renewed });
    // Before the lock is released, so that the next tab to take it finds the new tokens.
    await recordRenewal(current.refreshToken, renewed);
    return 'renewed';
  });
}

/** Renews the tokens once, however many requests found them stale at the same time. */
function refreshTokens(stale: StoredSession): Promise<RefreshOutcome> {
  refreshing ??= doRefresh(stale).finally(() => {
    refreshing = null;
  });
  return refreshing;
}

/** Renews the tokens of a session found stale, or ends the session (and throws) when the server refuses. */
async function renewOrEnd(stale: StoredSession): Promise<StoredSession> {
  const outcome = await refreshTokens(stale);
  const next = readSession();
  if (outcome === 'unavailable') {
    throw new ApiError(0, 'network_error', 'Cannot reach Scanflow to renew your session. Try again in a moment.');
  }
  if (outcome === 'rejected' || !next) {
    endSession(SESSION_EXPIRED_MESSAGE);
    throw new ApiError(401, 'session_expired', SESSION_EXPIRED_MESSAGE);
  }
  return next;
}

/** The session to send with, renewed first when its access token is about to expire. */
async function usableSession(): Promise<StoredSession> {
  const session = readSession();
  if (!session) throw new ApiError(401, 'unauthorized', 'Sign in first.');
  // Renew shortly before expiry rather than waiting for a refusal.
  return session.accessExpiresAt - Date.now() < 10_000 ? renewOrEnd(session) : session;
}

// ---------------------------------------------------------------- requests

async function errorFrom(response: Response): Promise<ApiError> {
  let code = 'http_error';
  let message = `The server answered ${response.status} ${response.statusText}`.trim();
  let details: Record<string, unknown> | undefined;
  try {
    const body = (await response.json()) as {
      error?: { code?: string; message?: string; details?: Record<string, unknown> };
    };
    if (body.error?.message) message = body.error.message;
    if (body.error?.code) code = body.error.code;
    details = body.error?.details;
  } catch {
    // Not JSON (a proxy's error page, say): keep the status line.
  }
  return new ApiError(response.status, code, message, details);
}

interface RequestOptions {
  body?: unknown;
  /** Send the access token (and refresh it when it has expired). Default true. */
  auth?: boolean;
  /** Extra headers, e.g. Accept. */
  headers?: Record<string, string>;
}

async function send(method: string, path: string, options: RequestOptions, token: string | null): Promise<Response> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.body !== undefined) headers['content-type'] = 'application/json';
  if (token) headers.authorization = `Bearer ${token}`;
  try {
    return await fetch(`${BASE}${path}`, {
      method,
      headers,
      body: options.body === undefined ? undefined : JSON.stringify(options.body),
    });
  } catch {
    throw new ApiError(0, 'network_error', 'Cannot reach Scanflow. Check your connection and try again.');
  }
}

/** Sends a request with the session's token; on 401 refreshes once and retries, else ends the session. */
async function authorised(method: string, path: string, options: RequestOptions): Promise<Response> {
  if (options.auth === false) return send(method, path, options, null);
  const session = await usableSession();
  let response = await send(method, path, options, session.accessToken);
  if (response.status === 401) {
    response = await send(method, path, options, (await renewOrEnd(session)).accessToken);
    if (response.status === 401) {
      endSession(SESSION_EXPIRED_MESSAGE);
      throw new ApiError(401, 'session_expired', SESSION_EXPIRED_MESSAGE);
    }
  }
  return response;
}

/** A usable access token for a connection that is not a fetch (the live channel), renewed if due. */
export async function freshAccessToken(): Promise<string> {
  return (await usableSession()).accessToken;
}

async function request<T>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
  const response = await authorised(method, path, options);
  if (!response.ok) throw await errorFrom(response);
  if (response.status === 204) return undefined as T;
  return (await response.json()) as T;
}

function query(params: object): string {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value === undefined || value === null || value === '') continue;
    search.set(key, String(value));
  }
  const text = search.toString();
  return text ? `?${text}` : '';
}

/** A file the API sends as an attachment, with the name it gives (or `fallback`). */
async function download(path: string, fallback: string): Promise<{ blob: Blob; filename: string }> {
  const response = await authorised('GET', path, {});
  if (!response.ok) throw await errorFrom(response);
  const disposition = response.headers.get('content-disposition') ?? '';
  const filename = /filename="([^"]+)"/.exec(disposition)?.[1] ?? fallback;
  return { blob: await response.blob(), filename };
}

// ---------------------------------------------------------------- uploads

export interface UploadProgress {
  loaded: number;
  total: number;
}

function xhrUpload(form: FormData, token: string, onProgress: (p: UploadProgress) => void): Promise<XMLHttpRequest> {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('POST', `${BASE}/scans`);
    xhr.setRequestHeader('authorization', `Bearer ${token}`);
    xhr.responseType = 'text';
    xhr.upload.addEventListener('progress', (event) => {
      if (event.lengthComputable) onProgress({ loaded: event.loaded, total: event.total });
    });
    xhr.addEventListener('load', () => resolve(xhr));
    xhr.addEventListener('error', () =>
      reject(new ApiError(0, 'network_error', 'The upload was interrupted. Check your connection and try again.')),
    );
    xhr.addEventListener('abort', () => reject(new ApiError(0, 'aborted', 'The upload was cancelled.')));
    xhr.send(form);
  });
}

function parseXhrError(xhr: XMLHttpRequest): ApiError {
  try {
    const body = JSON.parse(xhr.responseText) as { error?: { code?: string; message?: string } };
    if (body.error?.message) return new ApiError(xhr.status, body.error.code ?? 'http_error', body.error.message);
  } catch {
    // fall through
  }
  return new ApiError(xhr.status, 'http_error', `The server answered ${xhr.status}`);
}

/** Uploads one file in its own request (the API is all-or-nothing per request), reporting progress. */
export async function uploadScan(
  file: File,
  options: { patientId?: string; onProgress: (p: UploadProgress) => void },
): Promise<ScanSummary[]> {
  const form = new FormData();
  if (options.patientId) form.append('patientId', options.patientId);
  form.append('files', file, file.name);
  const session = await usableSession();
  let xhr = await xhrUpload(form, session.accessToken, options.onProgress);
  if (xhr.status === 401) xhr = await xhrUpload(form, (await renewOrEnd(session)).accessToken, options.onProgress);
  if (xhr.status < 200 || xhr.status >= 300) throw parseXhrError(xhr);
  return (JSON.parse(xhr.responseText) as { scans: ScanSummary[] }).scans;
}

// ---------------------------------------------------------------- the calls

export interface RenditionOptions {
  frame?: number;
  /** Longest side in pixels; leave out for full resolution. */
  maxSize?: number;
  /** Window centre and width, in modality units (e.g. HU); both or neither. */
  wc?: number;
  ww?: number;
}

export interface Rendition {
  blob: Blob;
  width: number | null;
  height: number | null;
  window: { center: number; width: number } | null;
  /** 'file', 'request' or 'automatic'. */
  windowSource: string | null;
}

export const api = {
  // auth
  async login(email: string, password: string): Promise<LoginResult> {
    const result = await request<LoginResult>('POST', '/auth/login', { body: { email, password }, auth: false });
    if (result.status === 'signed_in') startSession(result, email);
    return result;
  },
  async verifyTotp(challenge: string, code: string, email: string): Promise<StoredSession> {
    const result = await request<SignedIn>('POST', '/auth/totp/verify', { body: { challenge, code }, auth: false });
    return startSession(result, email);
  },
  sendEmailCode: (challenge: string) =>
    request<{ status: 'sent' }>('POST', '/auth/email-code', { body: { challenge }, auth: false }),
  async verifyEmailCode(challenge: string, code: string, email: string): Promise<StoredSession> {
    const result = await request<SignedIn>('POST', '/auth/email-code/verify', {
      body: { challenge, code },
      auth: false,
    });
    return startSession(result, email);
  },
  register: (input: RegisterInput) =>
    request<{ userId: string; role: string; clinicianVerified: boolean }>('POST', '/auth/register', {
      body: input,
      auth: false,
    }),
  async logout(): Promise<void> {
    try {
      if (readSession()) await request<undefined>('POST', '/auth/logout');
    } catch {
      // Signing out locally is what matters; an already-ended session is fine.
    } finally {
      endSession(null);
    }
  },
  me: () =>
    request<{ userId: string; orgId: string; role: string; clinicianVerified: boolean; secondFactor: boolean }>(
      'GET',
      '/auth/me',
    ),
  /** Re-reads who the user is (e.g. a licence verified since sign-in) into the stored session. */
  async refreshUser(): Promise<void> {
    const me = await api.me();
    const current = readSession();
    if (current && current.user.clinicianVerified !== me.clinicianVerified) {
      writeSession({ ...current, user: { ...current.user, clinicianVerified: me.clinicianVerified } });
    }
  },
  beginTotpEnrolment: () => request<{ secret: string; otpauthUri: string }>('POST', '/auth/totp/enrol'),
  async confirmTotpEnrolment(code: string): Promise<void> {
    const result = await request<{ accessToken: string; expiresIn: number }>('POST', '/auth/totp/confirm', {
      body: { code },
    });
    const current = readSession();
    if (current) {
      writeSession({
        ...current,
        accessToken: result.accessToken,
        accessExpiresAt: Date.now() + result.expiresIn * 1000,
        user: { ...current.user, totpEnabled: true, totpEnrolmentRequired: false },
      });
    }
  },

  // scans
  listScans: (q: WorklistQuery = {}) => request<Page<ScanSummary>>('GET', `/scans${query(q)}`),
  counts: () => request<{ counts: StatusCount[] }>('GET', '/scans/counts'),
  getScan: (id: string) => request<ScanDetail>('GET', `/scans/${encodeURIComponent(id)}`),
  transition: (id: string, input: TransitionInput) =>
    request<ScanDetail>('POST', `/scans/${encodeURIComponent(id)}/transitions`, { body: input }),
  /** The original image bytes as uploaded (DICOM, PNG, JPEG or TIFF), with the server's file name. */
  original: (id: string) => download(`/scans/${encodeURIComponent(id)}/image`, `scan-${id}`),
  /** The signed PDF report of an approved case. */
  report: (id: string) => download(`/scans/${encodeURIComponent(id)}/report`, `report-${id}.pdf`),
  deliveries: (id: string) => request<{ items: Delivery[] }>('GET', `/scans/${encodeURIComponent(id)}/deliveries`),
  /** A PNG rendition of one frame for display, with the window the server applied. */
  async rendition(id: string, options: RenditionOptions = {}): Promise<Rendition> {
    const response = await authorised('GET', `/scans/${encodeURIComponent(id)}/rendition${query(options)}`, {
      headers: { accept: 'image/png' },
    });
    if (!response.ok) throw await errorFrom(response);
    const number = (name: string) => {
      const value = response.headers.get(name);
      return value === null || value === '' ? null : Number(value);
    };
    const center = number('x-window-center');
    const width = number('x-window-width');
    return {
      blob: await response.blob(),
      width: number('x-image-width'),
      height: number('x-image-height'),
      window: center !== null && width !== null ? { center, width } : null,
      windowSource: response.headers.get('x-window-source'),
    };
  },

  /** The AI's heatmap overlay for the top finding (an RGBA PNG the size of the image's rendition). */
  async heatmap(id: string): Promise<Blob> {
    const response = await authorised('GET', `/scans/${encodeURIComponent(id)}/heatmap`, {
      headers: { accept: 'image/png' },
    });
    if (!response.ok) throw await errorFrom(response);
    return response.blob();
  },

  /** Queues the AI analysis again (doctors); the new result arrives as a status change. */
  reanalyse: (id: string) =>
    request<{ scanId: string; jobId: string; status: 'queued' }>('POST', `/scans/${encodeURIComponent(id)}/analysis`),

  // case discussion
  messages: (scanId: string) =>
    request<{ items: CaseMessage[] }>('GET', `/scans/${encodeURIComponent(scanId)}/messages`),
  postMessage: (scanId: string, text: string) =>
    request<CaseMessage>('POST', `/scans/${encodeURIComponent(scanId)}/messages`, { body: { text } }),
  secondOpinions: (scanId: string) =>
    request<{ items: SecondOpinion[] }>('GET', `/scans/${encodeURIComponent(scanId)}/second-opinions`),
  requestSecondOpinion: (scanId: string, doctorId: string, note?: string) =>
    request<SecondOpinion>('POST', `/scans/${encodeURIComponent(scanId)}/second-opinions`, {
      body: { doctorId, ...(note ? { note } : {}) },
    }),
  integrityReview: () => request<{ items: ScanSummary[] }>('GET', '/scans/integrity-review'),
  assignedSecondOpinions: () => request<{ items: SecondOpinion[] }>('GET', '/second-opinions?assigned=me'),
  secondOpinionDoctors: () => request<{ items: Person[] }>('GET', '/second-opinions/doctors'),
  respondSecondOpinion: (id: string, decision: 'answer' | 'decline', text?: string) =>
    request<SecondOpinion>('POST', `/second-opinions/${encodeURIComponent(id)}/${decision}`, {
      body: text ? { text } : {},
    }),
  annotations: (scanId: string) =>
    request<{ items: Annotation[] }>('GET', `/scans/${encodeURIComponent(scanId)}/annotations`),
  createAnnotation: (scanId: string, input: Pick<Annotation, 'geometry' | 'frame'> & { label?: string }) =>
    request<Annotation>('POST', `/scans/${encodeURIComponent(scanId)}/annotations`, { body: input }),
  deleteAnnotation: (annotation: Annotation) =>
    request<Annotation>(
      'DELETE',
      `/annotations/${encodeURIComponent(annotation.id)}${query({ version: annotation.version })}`,
    ),

  // admin
  listUsers: (q: { pending?: boolean; role?: string } = {}) =>
    request<{ items: AdminUser[] }>('GET', `/admin/users${query(q)}`),
  userAction: (id: string, action: 'verify' | 'disable' | 'enable' | 'reset-second-factor') =>
    request<AdminUser>('POST', `/admin/users/${encodeURIComponent(id)}/${action}`),
  outbox: () => request<{ items: OutboxMessage[] }>('GET', '/admin/outbox'),
  outboxAttachment: (id: string) => download(`/admin/outbox/${encodeURIComponent(id)}/attachment`, `attachment-${id}`),
  securitySignals: () => request<SecuritySignals>('GET', '/admin/security-signals'),
  alerts: () => request<{ items: IntegrityAlert[] }>('GET', '/admin/alerts'),
  latestCheckpoint: () => request<Checkpoint>('GET', '/ledger/checkpoints/latest'),
  audit: (q: AuditQuery = {}) => request<{ items: AuditEvent[] }>('GET', `/audit${query(q)}`),
};
