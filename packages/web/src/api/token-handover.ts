/**
 * Hands renewed tokens from the tab that renewed them to the next tab that takes the refresh lock.
 *
 * localStorage is shared by every tab, but Chromium gives each renderer process its own copy and
 * sends changes between them asynchronously: a tab that takes the lock a moment after another tab
 * released it can still read the old refresh token there, spend it again, and have the server end
 * the session as a token replay. IndexedDB transactions are committed in one place for the whole
 * browser, so what the lock's last holder wrote before releasing it, the next holder reads.
 *
 * The record keeps the last few refresh tokens this family has spent and the tokens that replaced
 * them; a tab adopts the tokens only if the one it holds is among the spent, so a record left from
 * another sign-in is never taken for this one.
 */
const DATABASE = 'scanflow';
const STORE = 'token-handover';
const KEY = 'latest';
const SPENT_KEPT = 8;

export interface RenewedTokens {
  accessToken: string;
  refreshToken: string;
  accessExpiresAt: number;
}

interface Handover {
  spent: string[];
  renewed: RenewedTokens;
}

function open(): Promise<IDBDatabase> {
  return new Promise((resolve, reject) => {
    const request = indexedDB.open(DATABASE, 1);
    request.onupgradeneeded = () => request.result.createObjectStore(STORE);
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error ?? new Error('IndexedDB did not open'));
  });
}

/** Runs one transaction on the store and resolves once it has committed. */
async function transact<T>(mode: IDBTransactionMode, run: (store: IDBObjectStore) => IDBRequest<T>): Promise<T> {
  const db = await open();
  try {
    return await new Promise<T>((resolve, reject) => {
      const transaction = db.transaction(STORE, mode);
      const request = run(transaction.objectStore(STORE));
      transaction.oncomplete = () => resolve(request.result);
      transaction.onerror = () => reject(transaction.error ?? new Error('IndexedDB transaction failed'));
      transaction.onabort = () => reject(transaction.error ?? new Error('IndexedDB transaction aborted'));
    });
  } finally {
    db.close();
  }
}

function available(): boolean {
  return typeof indexedDB !== 'undefined';
}

/** The tokens that replaced `refreshToken`, if another tab (or this one) has already spent it. */
export async function tokensThatReplaced(refreshToken: string): Promise<RenewedTokens | null> {
  if (!available()) return null;
  try {
    const handover = (await transact('readonly', (store) => store.get(KEY))) as Handover | undefined;
    return handover?.spent.includes(refreshToken) ? handover.renewed : null;
  } catch {
    // Without IndexedDB (some private modes) tabs fall back to what localStorage shows.
    return null;
  }
}

/** Records that `spent` was exchanged for `renewed`; resolves once other tabs can read it. */
export async function recordRenewal(spent: string, renewed: RenewedTokens): Promise<void> {
  if (!available()) return;
  try {
    await transact('readwrite', (store) => {
      const read = store.get(KEY);
      read.onsuccess = () => {
        const previous = read.result as Handover | undefined;
        // Same family when the token just spent is the one the last renewal issued.
        const earlier = previous?.renewed.refreshToken === spent ? previous.spent : [];
        store.put({ spent: [...earlier, spent].slice(-SPENT_KEPT), renewed } satisfies Handover, KEY);
      };
      return read;
    });
  } catch {
    // Best effort: a tab that misses the handover refreshes itself, as without IndexedDB.
  }
}

/** Forgets every token handed over (signing out leaves no tokens in the browser). */
export async function forgetRenewals(): Promise<void> {
  if (!available()) return;
  try {
    await transact('readwrite', (store) => store.delete(KEY));
  } catch {
    // Nothing to forget.
  }
}
