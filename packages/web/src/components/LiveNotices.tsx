/**
 * Notifications from the live channel, in the page (a toast with a link, announced politely to
 * screen readers) and, when the user has allowed it and the tab is hidden, as a desktop notification.
 * Doctors hear of new urgent cases; anyone of second opinions asked of them.
 */
import { useState } from 'react';
import { useLiveEvents, useLiveStatus } from '../api/live.ts';
import type { Role } from '../api/types.ts';
import { navigate } from '../lib/router.ts';
import { Link } from './ui.tsx';

interface Toast {
  id: number;
  text: string;
  to: string;
  urgent: boolean;
}

const TOAST_MS = 30_000;

function desktopNotify(text: string, to: string): void {
  if (typeof Notification === 'undefined' || Notification.permission !== 'granted') return;
  if (document.visibilityState === 'visible') return;
  const notification = new Notification('Scanflow', { body: text, tag: to });
  notification.onclick = () => {
    window.focus();
    navigate(to);
  };
}

export function LiveNotices({ role, userId }: { role: Role; userId: string }) {
  const [toasts, setToasts] = useState<Toast[]>([]);
  const push = (toast: Omit<Toast, 'id'>) => {
    const id = Date.now() + Math.random();
    setToasts((list) => [...list.slice(-3), { ...toast, id }]);
    window.setTimeout(() => setToasts((list) => list.filter((t) => t.id !== id)), TOAST_MS);
    desktopNotify(toast.text, toast.to);
  };
  useLiveEvents((event) => {
    if (event.kind === 'scan.urgent' && role === 'doctor') {
      push({ text: 'A new urgent case (HIGH priority) has arrived.', to: `/scans/${event.data.scanId}`, urgent: true });
    } else if (
      event.kind === 'second_opinion.changed' &&
      event.data.request.requestedOf.id === userId &&
      event.data.request.status === 'requested'
    ) {
      push({
        text: `${event.data.request.requestedBy.name} asks for your second opinion.`,
        to: `/scans/${event.data.scanId}`,
        urgent: false,
      });
    }
  });
  return (
    <div className="toasts" role="region" aria-label="Notifications" aria-live="polite">
      {toasts.map((t) => (
        <div key={t.id} className={`toast${t.urgent ? ' toast-urgent' : ''}`} data-testid="toast">
          {t.urgent && <strong className="badge priority-high">HIGH</strong>} <span>{t.text}</span>{' '}
          <Link to={t.to}>Open</Link>{' '}
          <button
            type="button"
            className="link-button"
            onClick={() => setToasts((list) => list.filter((x) => x.id !== t.id))}
          >
            Dismiss
          </button>
        </div>
      ))}
    </div>
  );
}

/** "Live" or how the page keeps current without it, in words (not only a coloured dot). */
export function LiveIndicator() {
  const status = useLiveStatus();
  const text = status === 'live' ? 'Live' : status === 'connecting' ? 'Connecting…' : 'Offline: refreshing every 20 s';
  return (
    <span className={`live-indicator live-${status}`} data-testid="live-status" data-status={status}>
      <span aria-hidden="true">● </span>
      {text}
    </span>
  );
}

/** Offers desktop notifications while the browser has not been asked yet. */
export function DesktopAlertsButton() {
  const [permission, setPermission] = useState(() =>
    typeof Notification === 'undefined' ? 'unsupported' : Notification.permission,
  );
  if (permission !== 'default') return null;
  return (
    <button type="button" onClick={() => void Notification.requestPermission().then((p) => setPermission(p))}>
      Turn on desktop alerts
    </button>
  );
}
