/** The signed-in session as React state, kept in step with the API client's token store. */
import { createContext, useContext, useEffect, useMemo, useState, type ReactNode } from 'react';
import { api, onSessionChange, readSession, type StoredSession } from './api/client.ts';

interface SessionState {
  session: StoredSession | null;
  /** Why the last session ended (shown on the sign-in page), if it ended on its own. */
  endedReason: string | null;
  clearEndedReason: () => void;
  signOut: () => Promise<void>;
}

const SessionContext = createContext<SessionState | null>(null);

export function SessionProvider({ children }: { children: ReactNode }) {
  const [session, setSession] = useState<StoredSession | null>(() => readSession());
  const [endedReason, setEndedReason] = useState<string | null>(null);

  useEffect(
    () =>
      onSessionChange((next, reason) => {
        setSession(next);
        if (next) setEndedReason(null);
        else if (reason) setEndedReason(reason);
      }),
    [],
  );

  // Check the stored session once on arrival: it may have ended (expired, signed out elsewhere),
  // or the user's standing may have changed (a licence verified) since it was stored.
  useEffect(() => {
    if (readSession()) api.refreshUser().catch(() => undefined);
  }, []);

  const value = useMemo<SessionState>(
    () => ({
      session,
      endedReason,
      clearEndedReason: () => setEndedReason(null),
      signOut: () => api.logout(),
    }),
    [session, endedReason],
  );
  return <SessionContext.Provider value={value}>{children}</SessionContext.Provider>;
}

export function useSession(): SessionState {
  const value = useContext(SessionContext);
  if (!value) throw new Error('useSession must be used inside <SessionProvider>');
  return value;
}

/** The signed-in session; only for pages shown when signed in. */
export function useSignedIn(): StoredSession {
  const { session } = useSession();
  if (!session) throw new Error('This page needs a signed-in session');
  return session;
}
