/** One case: the image, the AI pre-read, what has been written so far, and the next step for this role. */
import { useState } from 'react';
import { SCAN_STATUSES, ownerOf, parsePixelSpacing } from '@scanflow/domain';
import { api } from '../api/client.ts';
import { useLiveEvents } from '../api/live.ts';
import type { ScanDetail } from '../api/types.ts';
import { AiPanel } from '../components/AiPanel.tsx';
import { ANNOTATION_TOOLS, AnnotationList, AnnotationOverlay, useAnnotations } from '../components/Annotations.tsx';
import { CaseDiscussion } from '../components/CaseDiscussion.tsx';
import { DownloadButton, ReportPanel } from '../components/Downloads.tsx';
import { Thumbnail } from '../components/Thumbnail.tsx';
import { ApprovePanel, FindingsForm, PrescriptionForm, SendBackForm } from '../components/CaseActions.tsx';
import { ScanViewer } from '../components/ScanViewer.tsx';
import { Steps, Timeline } from '../components/Timeline.tsx';
import { Alert, Link, Loading, PriorityBadge, StatusBadge } from '../components/ui.tsx';
import { formatDateTime, waitingSince } from '../lib/format.ts';
import { can } from '../lib/permissions.ts';
import { useAsync } from '../lib/useAsync.ts';
import { useSignedIn } from '../session.tsx';

/** The patient's other scans, newest first, as thumbnails linking to each case. */
function PreviousScans({ scan }: { scan: ScanDetail }) {
  // The worklist API has no patient filter: read every status the user may see and keep this patient's.
  const others = useAsync(
    () => api.listScans({ status: SCAN_STATUSES.join(','), limit: 200 }),
    [scan.id, scan.patient.id],
  );
  const items = (others.data?.items ?? [])
    .filter((s) => s.patient.id === scan.patient.id && s.id !== scan.id)
    .sort((a, b) => b.receivedAt.localeCompare(a.receivedAt));
  if (items.length === 0) return null;
  return (
    <section className="card previous-scans" aria-labelledby="previous-title">
      <h2 id="previous-title">Previous scans of this patient</h2>
      <ul className="thumb-row">
        {items.map((s) => (
          <li key={s.id} data-scan-id={s.id}>
            <Link to={`/scans/${s.id}`}>
              <Thumbnail
                scanId={s.id}
                size={80}
                label={`${s.modality ?? s.format.toUpperCase()} received ${formatDateTime(s.receivedAt)}`}
              />
              <span className="small">{formatDateTime(s.receivedAt)}</span>
            </Link>
            <StatusBadge status={s.status} />
          </li>
        ))}
      </ul>
    </section>
  );
}

export function CaseView({ id }: { id: string }) {
  const { user } = useSignedIn();
  const loaded = useAsync(() => api.getScan(id), [id]);
  const [updated, setUpdated] = useState<ScanDetail | null>(null);
  const [message, setMessage] = useState<string | null>(null);
  const [annotationLabel, setAnnotationLabel] = useState('');
  const scan = updated && updated.id === id ? updated : loaded.data;
  const back = user.role === 'patient' ? 'My scans' : user.role === 'admin' ? 'Approvals' : 'Worklist';
  const clinician = user.role !== 'patient';
  const discussion = scan !== null && can(user, 'discussion.read', scan);
  const annotations = useAnnotations(id, discussion);

  // Someone else moved the case on (or the AI finished): show it as it now is. An event can arrive
  // after this user's own newer change, so the newer version of the case always wins.
  useLiveEvents((event) => {
    if ((event.kind === 'scan.status' || event.kind === 'scan.urgent') && event.data.scanId === id) {
      api.getScan(id).then(
        (next) => setUpdated((shown) => (shown && shown.version > next.version ? shown : next)),
        () => undefined, // the page keeps what it shows; the next event or a reload tries again
      );
    }
  });

  if (loaded.error) {
    return (
      <div className="page">
        <p>
          <Link to="/">← {back}</Link>
        </p>
        <Alert>{loaded.error}</Alert>
      </div>
    );
  }
  if (!scan) return <Loading label="Loading the case…" />;

  const onDone = (next: ScanDetail, text: string) => {
    setUpdated((shown) => (shown && shown.version > next.version ? shown : next));
    setMessage(text);
  };
  const mine = ownerOf(scan.status) === user.role;
  const canDraw = can(user, 'annotation.write', scan);

  return (
    <div className="page case-view">
      <p>
        <Link to="/">← {back}</Link>
      </p>
      <header className="case-head">
        <div>
          <h1>{scan.patient.name ?? 'Unnamed patient'}</h1>
          <p className="muted">
            {scan.modality ?? scan.format.toUpperCase()}
            {scan.bodyPart ? ` · ${scan.bodyPart.toLowerCase()}` : ''} · received {formatDateTime(scan.receivedAt)} · in
            this step for {waitingSince(scan.statusSince)}
          </p>
        </div>
        <div className="badges">
          <DownloadButton label="Download original" fetch={() => api.original(scan.id)} />
          {clinician && <PriorityBadge priority={scan.priority} />}
          <StatusBadge status={scan.status} />
        </div>
      </header>
      {message && <Alert kind="success">{message}</Alert>}
      <Steps status={scan.status} />
      <div className="case-grid">
        <div className="case-image">
          <ScanViewer
            scan={scan}
            tools={canDraw ? ANNOTATION_TOOLS : []}
            overlay={
              discussion
                ? (geometry, tool) => (
                    <AnnotationOverlay
                      geometry={geometry}
                      tool={tool}
                      state={annotations}
                      label={annotationLabel}
                      pixelSpacing={parsePixelSpacing(scan.dicom?.pixelSpacing)}
                    />
                  )
                : undefined
            }
          />
          {discussion && (
            <AnnotationList
              state={annotations}
              userId={user.id}
              label={annotationLabel}
              onLabel={setAnnotationLabel}
              canDraw={canDraw}
            />
          )}
          {clinician && <PreviousScans scan={scan} />}
          {scan.dicom && Object.keys(scan.dicom).length > 0 && (
            <details className="card">
              <summary>DICOM attributes</summary>
              <dl className="kv">
                {Object.entries(scan.dicom).map(([k, v]) => (
                  <div key={k}>
                    <dt>{k}</dt>
                    <dd>{v}</dd>
                  </div>
                ))}
              </dl>
            </details>
          )}
        </div>
        <div className="case-side">
          {scan.status === 'REPORT_READY' && (
            <ReportPanel scanId={scan.id} showDelivery={user.role === 'patient' || user.role === 'admin'} />
          )}
          {clinician && <AiPanel ai={scan.ai} scanId={scan.id} canRerun={can(user, 'scan.reanalyse', scan)} />}
          {scan.findings && (
            <section className="card" aria-labelledby="findings-title">
              <h2 id="findings-title">Doctor’s findings</h2>
              <p className="prewrap">{scan.findings.findings}</p>
              {scan.findings.impression && (
                <>
                  <h3>Impression</h3>
                  <p className="prewrap">{scan.findings.impression}</p>
                </>
              )}
            </section>
          )}
          {scan.prescription && (
            <section className="card" aria-labelledby="rx-title">
              <h2 id="rx-title">Prescription</h2>
              <ul className="rx-list">
                {scan.prescription.items.map((item, i) => (
                  <li key={i}>
                    <strong>{item.drug}</strong> {item.dose}, {item.route}, {item.frequency}, for {item.duration}
                    {item.notes ? ` — ${item.notes}` : ''}
                  </li>
                ))}
              </ul>
              {scan.prescription.notes && <p className="prewrap">{scan.prescription.notes}</p>}
            </section>
          )}
          {mine && user.role === 'doctor' && (
            <>
              <FindingsForm scan={scan} onDone={onDone} />
              <SendBackForm
                scan={scan}
                onDone={onDone}
                explanation="Sends the scan back for the AI pre-read to run again."
              />
            </>
          )}
          {mine && user.role === 'pharmacist' && (
            <>
              <PrescriptionForm scan={scan} onDone={onDone} />
              <SendBackForm
                scan={scan}
                onDone={onDone}
                explanation="Returns the case to the doctor with your reason."
              />
            </>
          )}
          {mine && user.role === 'admin' && (
            <>
              <ApprovePanel scan={scan} onDone={onDone} />
              <SendBackForm
                scan={scan}
                onDone={onDone}
                explanation="Returns the case to the pharmacist with your reason."
              />
            </>
          )}
        </div>
        {discussion && (
          <div className="case-discussion">
            <CaseDiscussion scanId={scan.id} userId={user.id} isDoctor={user.role === 'doctor'} />
          </div>
        )}
        <section className="card case-history" aria-labelledby="timeline-title">
          <h2 id="timeline-title">Timeline</h2>
          <Timeline entries={scan.timeline} />
        </section>
      </div>
    </div>
  );
}
