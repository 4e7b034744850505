/**
 * Scans whose stored bytes no longer match the hash recorded when they arrived (SPEC L3). They
 * are blocked from export and report release; a doctor (is this still the patient's image?) and
 * an administrator (what happened to the storage?) take a second look. Shown only when non-empty.
 */
import { api } from '../api/client.ts';
import { useLiveEvents } from '../api/live.ts';
import { formatDateTime, waitingSince } from '../lib/format.ts';
import { useAsync } from '../lib/useAsync.ts';
import { Alert, Link } from './ui.tsx';

export function IntegrityReviewQueue() {
  const queue = useAsync(() => api.integrityReview(), []);
  useLiveEvents((event) => {
    if (event.kind === 'scan.status' || event.kind === 'reset') queue.reload();
  });
  const items = queue.data?.items ?? [];
  if (queue.error) return <Alert>{queue.error}</Alert>;
  if (items.length === 0) return null;
  return (
    <section className="card integrity-review" aria-labelledby="integrity-title">
      <h2 id="integrity-title">
        Integrity review <span className="badge count-badge">{items.length} flagged</span>
      </h2>
      <p className="muted">
        The stored image no longer matches its recorded fingerprint. Export and report release are blocked.
      </p>
      <ul className="plain-list">
        {items.map((scan) => (
          <li key={scan.id} data-scan-id={scan.id}>
            <strong>{scan.patient.name ?? 'Patient'}</strong> · {scan.modality ?? scan.format} · flagged{' '}
            {scan.secondOpinionSince ? formatDateTime(scan.secondOpinionSince) : ''} (waiting{' '}
            {scan.secondOpinionSince ? waitingSince(scan.secondOpinionSince) : '—'}){' '}
            <Link to={`/scans/${scan.id}`} className="button">
              Open<span className="visually-hidden"> the flagged case</span>
            </Link>
          </li>
        ))}
      </ul>
    </section>
  );
}
