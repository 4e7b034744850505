/** Small shared pieces: badges, alerts, links, progress, loading. Colour is never the only signal. */
import type { ReactNode, MouseEvent } from 'react';
import type { ScanStatus } from '@scanflow/domain';
import type { Priority } from '../api/types.ts';
import { STATUS_LABEL } from '../lib/format.ts';
import { navigate } from '../lib/router.ts';

export function StatusBadge({ status }: { status: ScanStatus }) {
  return (
    <span className={`badge status-${status.toLowerCase()}`} data-status={status}>
      {STATUS_LABEL[status]}
    </span>
  );
}

export function PriorityBadge({ priority }: { priority: Priority | null }) {
  if (!priority) return <span className="badge priority-none">Not triaged</span>;
  return priority === 'HIGH' ? (
    <span className="badge priority-high" data-priority="HIGH">
      <span aria-hidden="true">▲ </span>HIGH
    </span>
  ) : (
    <span className="badge priority-routine" data-priority="ROUTINE">
      Routine
    </span>
  );
}

export function Alert({ kind = 'error', children }: { kind?: 'error' | 'info' | 'success'; children: ReactNode }) {
  return (
    <div className={`alert alert-${kind}`} role={kind === 'error' ? 'alert' : 'status'}>
      {children}
    </div>
  );
}

export function Loading({ label = 'Loading…' }: { label?: string }) {
  return (
    <p className="loading" role="status">
      {label}
    </p>
  );
}

/** A link that navigates inside the app (and still opens in a new tab with a modifier key). */
export function Link({ to, children, className }: { to: string; children: ReactNode; className?: string }) {
  const onClick = (event: MouseEvent<HTMLAnchorElement>) => {
    if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey) return;
    event.preventDefault();
    navigate(to);
  };
  return (
    <a href={to} onClick={onClick} className={className}>
      {children}
    </a>
  );
}

export function ProgressBar({ value, label }: { value: number; label: string }) {
  const pct = Math.max(0, Math.min(100, Math.round(value * 100)));
  return (
    <div
      className="progress"
      role="progressbar"
      aria-label={label}
      aria-valuemin={0}
      aria-valuemax={100}
      aria-valuenow={pct}
    >
      <div className="progress-fill" style={{ width: `${pct}%` }} />
    </div>
  );
}
