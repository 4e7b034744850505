/** Where a scan is on its way, and each step it took with when and by whom. */
import { SCAN_STATUSES, type ScanStatus } from '@scanflow/domain';
import type { TimelineEntry } from '../api/types.ts';
import { STEP_LABEL, actionLabel, formatDateTime } from '../lib/format.ts';

/**
 * The five milestones as a stepper: reached (✓), the one being worked on now, and those to come
 * (said in text too, not by colour alone). A scan in AI_ANALYZED has reached "AI pre-read" and is
 * with the doctor.
 */
export function Steps({ status }: { status: ScanStatus }) {
  const current = SCAN_STATUSES.indexOf(status) + 1;
  return (
    <ol className="steps" aria-label="Progress">
      {SCAN_STATUSES.map((s, i) => {
        const state = i < current ? 'done' : i === current ? 'current' : 'todo';
        return (
          <li key={s} className={`step step-${state}`} aria-current={state === 'current' ? 'step' : undefined}>
            <span className="step-dot" aria-hidden="true">
              {state === 'done' ? '✓' : i + 1}
            </span>
            <span className="step-label">
              {STEP_LABEL[s]}
              <span className="visually-hidden">
                {state === 'done' ? ' (done)' : state === 'current' ? ' (in progress)' : ' (to come)'}
              </span>
            </span>
          </li>
        );
      })}
    </ol>
  );
}

export function Timeline({ entries }: { entries: TimelineEntry[] }) {
  if (entries.length === 0) return <p className="muted">No steps recorded yet.</p>;
  return (
    <ol className="timeline">
      {entries.map((entry, i) => (
        <li key={`${entry.at}-${i}`} className={entry.action === 'send_back' ? 'timeline-back' : undefined}>
          <time dateTime={entry.at}>{formatDateTime(entry.at)}</time>
          <span className="timeline-action">{actionLabel(entry.action)}</span>
          {entry.actorRole && (
            <span className="muted"> by {entry.actorRole === 'system' ? 'Scanflow' : entry.actorRole}</span>
          )}
          {entry.notes && <p className="timeline-notes">{entry.notes}</p>}
        </li>
      ))}
    </ol>
  );
}
