/** Downloads the API sends as attachments (originals, reports, outbox attachments), and report delivery. */
import { useState } from 'react';
import { api } from '../api/client.ts';
import type { Delivery } from '../api/types.ts';
import { formatDateTime, messageOf } from '../lib/format.ts';
import { useAsync } from '../lib/useAsync.ts';
import { Alert } from './ui.tsx';

function save(blob: Blob, filename: string): void {
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = filename;
  a.click();
  window.setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

export function DownloadButton({
  label,
  fetch,
  className,
}: {
  label: string;
  fetch: () => Promise<{ blob: Blob; filename: string }>;
  className?: string;
}) {
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const run = () => {
    setBusy(true);
    setError(null);
    fetch()
      .then(({ blob, filename }) => save(blob, filename))
      .catch((err: unknown) => setError(messageOf(err)))
      .finally(() => setBusy(false));
  };
  return (
    <>
      <button type="button" onClick={run} disabled={busy} className={className}>
        {busy ? 'Downloading…' : label}
      </button>
      {error && <Alert>{error}</Alert>}
    </>
  );
}

const DELIVERY_TEXT: Record<Delivery['status'], string> = {
  queued: 'Being sent',
  sent: 'Sent',
  failed: 'Could not be sent',
};

/** Where the report's e-mail to the patient stands (patient and admins). */
export function DeliveryStatus({ scanId }: { scanId: string }) {
  const deliveries = useAsync(() => api.deliveries(scanId), [scanId]);
  if (deliveries.error || !deliveries.data || deliveries.data.items.length === 0) return null;
  return (
    <ul className="plain-list deliveries" aria-label="Report delivery">
      {deliveries.data.items.map((d) => (
        <li key={d.id} data-delivery-status={d.status}>
          <span className={`badge delivery-${d.status}`}>{DELIVERY_TEXT[d.status]}</span>{' '}
          {d.channel === 'email' ? 'by e-mail' : 'to the outbox'}
          {d.sentAt ? `, ${formatDateTime(d.sentAt)}` : `, queued ${formatDateTime(d.queuedAt)}`}
          {d.attempts > 1 ? ` · ${d.attempts} attempts` : ''}
          {d.reason ? <span className="muted"> · {d.reason}</span> : null}
        </li>
      ))}
    </ul>
  );
}

/** The report of an approved case: download, and (for whoever may see it) its delivery. */
export function ReportPanel({ scanId, showDelivery }: { scanId: string; showDelivery: boolean }) {
  return (
    <section className="card report-panel" aria-labelledby={`report-title-${scanId}`}>
      <h2 id={`report-title-${scanId}`}>Report</h2>
      <p>The signed report is ready.</p>
      <DownloadButton label="Download report (PDF)" className="primary" fetch={() => api.report(scanId)} />
      {showDelivery && <DeliveryStatus scanId={scanId} />}
    </section>
  );
}
