/** A patient's own scans: where each is, its timeline, the report when ready, and uploading more. */
import { useState } from 'react';
import { api } from '../api/client.ts';
import { useLiveEvents } from '../api/live.ts';
import { DeliveryStatus, DownloadButton } from '../components/Downloads.tsx';
import type { ScanDetail, ScanSummary } from '../api/types.ts';
import { Steps, Timeline } from '../components/Timeline.tsx';
import { Thumbnail } from '../components/Thumbnail.tsx';
import { Uploader } from '../components/Uploader.tsx';
import { Alert, Link, Loading, StatusBadge } from '../components/ui.tsx';
import { formatBytes, formatDateTime, messageOf } from '../lib/format.ts';
import { useAsync } from '../lib/useAsync.ts';

export function PatientDashboard() {
  const scans = useAsync(() => api.listScans({ limit: 100 }), []);
  // A scan moving on (the AI, the doctor, the approval) shows at once.
  useLiveEvents((event) => {
    if (event.kind === 'scan.status' || event.kind === 'reset') scans.reload();
  });
  const items = scans.data?.items ?? [];
  const ready = items.filter((s) => s.status === 'REPORT_READY').length;

  return (
    <div className="page">
      <h1>My scans</h1>
      <div className="tiles" aria-label="Summary">
        <div className="tile">
          <span className="tile-number">{items.length}</span> scans
        </div>
        <div className="tile">
          <span className="tile-number">{items.length - ready}</span> in progress
        </div>
        <div className="tile">
          <span className="tile-number">{ready}</span> reports ready
        </div>
      </div>
      <Uploader onUploaded={scans.reload} />
      <section aria-labelledby="scans-title">
        <h2 id="scans-title">Scans</h2>
        {scans.error && <Alert>{scans.error}</Alert>}
        {scans.loading && !scans.data && <Loading />}
        {scans.data && items.length === 0 && <p className="muted">No scans yet. Upload one above.</p>}
        <ul className="scan-cards" aria-label="My scans">
          {items.map((scan) => (
            <PatientScanCard key={scan.id} scan={scan} />
          ))}
        </ul>
      </section>
    </div>
  );
}

function PatientScanCard({ scan }: { scan: ScanSummary }) {
  const [detail, setDetail] = useState<ScanDetail | null>(null);
  const [error, setError] = useState<string | null>(null);

  const onToggle = (open: boolean) => {
    if (!open || detail) return;
    api.getScan(scan.id).then(setDetail, (err: unknown) => setError(messageOf(err)));
  };

  return (
    <li className="card scan-card" data-scan-id={scan.id}>
      <div className="scan-card-head">
        <Thumbnail scanId={scan.id} label={`Preview of the scan received ${formatDateTime(scan.receivedAt)}`} />
        <div className="scan-card-title">
          <h3>
            <Link to={`/scans/${scan.id}`}>
              {scan.modality ?? scan.format.toUpperCase()} scan
              {scan.bodyPart ? ` · ${scan.bodyPart.toLowerCase()}` : ''}
            </Link>
          </h3>
          <p className="muted">
            Received {formatDateTime(scan.receivedAt)} · {scan.width}×{scan.height} · {formatBytes(scan.byteSize)}
          </p>
        </div>
        <StatusBadge status={scan.status} />
      </div>
      <Steps status={scan.status} />
      {scan.status === 'REPORT_READY' && (
        <div className="report-row">
          <DownloadButton label="Download report (PDF)" className="primary" fetch={() => api.report(scan.id)} />
          <DeliveryStatus scanId={scan.id} />
        </div>
      )}
      <details onToggle={(e) => onToggle(e.currentTarget.open)}>
        <summary>Timeline</summary>
        {error && <Alert>{error}</Alert>}
        {!detail && !error && <Loading />}
        {detail && <Timeline entries={detail.timeline} />}
      </details>
    </li>
  );
}
