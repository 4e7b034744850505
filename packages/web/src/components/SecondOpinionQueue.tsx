/** Second opinions asked of the signed-in doctor, open ones first, kept current by the live channel. */
import { api } from '../api/client.ts';
import { useLiveEvents } from '../api/live.ts';
import { formatDateTime, waitingSince } from '../lib/format.ts';
import { useAsync } from '../lib/useAsync.ts';
import { Alert, Link } from './ui.tsx';

export function SecondOpinionQueue() {
  const requests = useAsync(() => api.assignedSecondOpinions(), []);
  useLiveEvents((event) => {
    if (event.kind === 'second_opinion.changed' || event.kind === 'reset') requests.reload();
  });
  const open = (requests.data?.items ?? []).filter((r) => r.status === 'requested');
  if (requests.error) return <Alert>{requests.error}</Alert>;
  if (open.length === 0) return null;
  return (
    <section className="card second-opinions" aria-labelledby="so-title">
      <h2 id="so-title">
        Second opinions asked of you <span className="badge count-badge">{open.length} open</span>
      </h2>
      <ul className="plain-list">
        {open.map((r) => (
          <li key={r.id} data-request-id={r.id} data-scan-id={r.scanId}>
            <strong>{r.requestedBy.name}</strong> asked {formatDateTime(r.createdAt)} (waiting{' '}
            {waitingSince(r.createdAt)}){r.scan.priority === 'HIGH' ? ' · HIGH priority' : ''}
            {r.note ? <span className="muted"> — “{r.note}”</span> : null}{' '}
            <Link to={`/scans/${r.scanId}`} className="button">
              Open<span className="visually-hidden"> the case for this second opinion</span>
            </Link>
          </li>
        ))}
      </ul>
    </section>
  );
}
