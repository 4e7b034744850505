/**
 * A clinician's queue (doctor: analysed scans; pharmacist: verified; admin: awaiting approval),
 * HIGH priority first and then by waiting time, as the server orders it. Counts on top, filters.
 * It reloads quietly when the live channel says a scan changed, and announces newly arrived urgent
 * cases; while the channel is down it polls every 20 seconds (and on returning to the tab) instead.
 */
import { useEffect, useRef, useState, type FormEvent } from 'react';
import { useLiveEvents, useLiveStatus } from '../api/live.ts';
import { DesktopAlertsButton } from '../components/LiveNotices.tsx';
import { SecondOpinionQueue } from '../components/SecondOpinionQueue.tsx';
import { IntegrityReviewQueue } from '../components/IntegrityReviewQueue.tsx';
import { SCAN_STATUSES, queueStatuses, type Role } from '@scanflow/domain';
import { api } from '../api/client.ts';
import type { Priority, ScanSummary, StatusCount, WorklistQuery } from '../api/types.ts';
import { Alert, Link, Loading, PriorityBadge, StatusBadge } from '../components/ui.tsx';
import { STATUS_LABEL, formatDateTime, messageOf, percent, waitingSince } from '../lib/format.ts';
import { navigate } from '../lib/router.ts';

const REFRESH_MS = 20_000;

const TITLE: Partial<Record<Role, string>> = {
  doctor: 'Worklist',
  pharmacist: 'Prescription queue',
  admin: 'Approvals',
};

interface Filters {
  status: string;
  priority: '' | Priority;
  from: string;
  to: string;
}

const EMPTY: Filters = { status: '', priority: '', from: '', to: '' };

function toQuery(filters: Filters, cursor?: string): WorklistQuery {
  return {
    ...(filters.status ? { status: filters.status } : {}),
    ...(filters.priority ? { priority: filters.priority } : {}),
    ...(filters.from ? { from: new Date(`${filters.from}T00:00:00`).toISOString() } : {}),
    // "to" is exclusive on the server: include the whole chosen day.
    ...(filters.to ? { to: new Date(new Date(`${filters.to}T00:00:00`).getTime() + 86_400_000).toISOString() } : {}),
    ...(cursor ? { cursor } : {}),
    limit: 50,
  };
}

export function Worklist({ role }: { role: Role }) {
  const [filters, setFilters] = useState<Filters>(EMPTY);
  const [applied, setApplied] = useState<Filters>(EMPTY);
  const [items, setItems] = useState<ScanSummary[] | null>(null);
  const [nextCursor, setNextCursor] = useState<string | null>(null);
  const [counts, setCounts] = useState<StatusCount[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [refreshedAt, setRefreshedAt] = useState<Date | null>(null);
  const seen = useRef<Set<string> | null>(null);
  const reload = useRef<(quiet: boolean) => void>(() => undefined);
  const liveStatus = useLiveStatus();

  useEffect(() => {
    let live = true;
    let latest = 0;
    const load = async (quiet: boolean) => {
      // Loads overlap when events come quickly: only the newest one's answer is shown.
      const mine = ++latest;
      try {
        const [page, c] = await Promise.all([api.listScans(toQuery(applied)), api.counts()]);
        if (!live || mine !== latest) return;
        const fresh = page.items.filter((s) => s.priority === 'HIGH' && seen.current && !seen.current.has(s.id));
        if (quiet && fresh.length > 0) {
          setNotice(
            `${fresh.length === 1 ? 'A new urgent case has' : `${fresh.length} new urgent cases have`} arrived.`,
          );
        }
        seen.current = new Set([...(seen.current ?? []), ...page.items.map((s) => s.id)]);
        setItems(page.items);
        setNextCursor(page.nextCursor);
        setCounts(c.counts);
        setError(null);
        setRefreshedAt(new Date());
      } catch (err) {
        if (live && mine === latest) setError(messageOf(err));
      }
    };
    reload.current = (quiet) => void load(quiet);
    void load(false);
    return () => {
      live = false;
    };
  }, [applied]);

  // Without the live channel: poll, and refresh on returning to the tab. Back on it: catch up once.
  useEffect(() => {
    if (liveStatus === 'live') {
      reload.current(true);
      return undefined;
    }
    const timer = window.setInterval(() => {
      if (document.visibilityState === 'visible') reload.current(true);
    }, REFRESH_MS);
    const onFocus = () => reload.current(true);
    window.addEventListener('focus', onFocus);
    return () => {
      window.clearInterval(timer);
      window.removeEventListener('focus', onFocus);
    };
  }, [liveStatus]);

  // A burst of changes (a batch upload) reloads once.
  const pending = useRef<number | undefined>(undefined);
  useLiveEvents((event) => {
    if (event.kind !== 'scan.status' && event.kind !== 'scan.urgent' && event.kind !== 'reset') return;
    window.clearTimeout(pending.current);
    pending.current = window.setTimeout(() => reload.current(true), 100);
  });
  useEffect(() => () => window.clearTimeout(pending.current), []);

  const loadMore = () => {
    if (!nextCursor) return;
    api.listScans(toQuery(applied, nextCursor)).then(
      (page) => {
        setItems((list) => [...(list ?? []), ...page.items]);
        setNextCursor(page.nextCursor);
      },
      (err: unknown) => setError(messageOf(err)),
    );
  };

  const apply = (event: FormEvent) => {
    event.preventDefault();
    setApplied({ ...filters });
  };

  const own = queueStatuses(role);
  const ownCounts = (counts ?? []).filter((c) => own.some((s) => s === c.status));
  const total = ownCounts.reduce((n, c) => n + c.total, 0);
  const high = ownCounts.reduce((n, c) => n + c.high, 0);
  const oldest = ownCounts
    .map((c) => c.oldestWaitingSince)
    .filter((x): x is string => x !== null)
    .sort()[0];

  return (
    <div className="page">
      <div className="page-head">
        <h1>{TITLE[role] ?? 'Scans'}</h1>
        {role === 'doctor' && <DesktopAlertsButton />}
      </div>
      <div className="tiles" aria-label="Queue counts">
        <div className="tile">
          <span className="tile-number" data-testid="count-waiting">
            {counts ? total : '…'}
          </span>{' '}
          waiting
        </div>
        <div className={`tile${high > 0 ? ' tile-high' : ''}`}>
          <span className="tile-number" data-testid="count-high">
            {counts ? high : '…'}
          </span>{' '}
          high priority
        </div>
        <div className="tile">
          <span className="tile-number">{oldest ? waitingSince(oldest) : '—'}</span> longest wait
        </div>
      </div>
      {role === 'doctor' && <SecondOpinionQueue />}
      {role === 'doctor' && <IntegrityReviewQueue />}
      {notice && (
        <div className="alert alert-urgent" role="alert">
          <span>{notice}</span>{' '}
          <button type="button" className="link-button" onClick={() => setNotice(null)}>
            Dismiss
          </button>
        </div>
      )}
      <form className="filters card" onSubmit={apply} aria-label="Filters">
        <div>
          <label htmlFor="f-status">Status</label>
          <select
            id="f-status"
            value={filters.status}
            onChange={(e) => setFilters({ ...filters, status: e.target.value })}
          >
            <option value="">My queue</option>
            {SCAN_STATUSES.map((s) => (
              <option key={s} value={s}>
                {STATUS_LABEL[s]}
              </option>
            ))}
          </select>
        </div>
        <div>
          <label htmlFor="f-priority">Priority</label>
          <select
            id="f-priority"
            value={filters.priority}
            onChange={(e) => setFilters({ ...filters, priority: e.target.value as Filters['priority'] })}
          >
            <option value="">Any</option>
            <option value="HIGH">High</option>
            <option value="ROUTINE">Routine</option>
          </select>
        </div>
        <div>
          <label htmlFor="f-from">Received from</label>
          <input
            id="f-from"
            type="date"
            value={filters.from}
            onChange={(e) => setFilters({ ...filters, from: e.target.value })}
          />
        </div>
        <div>
          <label htmlFor="f-to">Received to</label>
          <input
            id="f-to"
            type="date"
            value={filters.to}
            onChange={(e) => setFilters({ ...filters, to: e.target.value })}
          />
        </div>
        <div className="filter-buttons">
          <button type="submit">Apply</button>
          <button
            type="button"
            onClick={() => {
              setFilters(EMPTY);
              setApplied(EMPTY);
            }}
          >
            Clear
          </button>
        </div>
      </form>
      {error && <Alert>{error}</Alert>}
      {!items && !error && <Loading />}
      {items && items.length === 0 && <p className="muted">Nothing waiting. New cases appear here automatically.</p>}
      {items && items.length > 0 && (
        <div className="table-wrap">
          <table className="worklist" aria-label={TITLE[role] ?? 'Scans'}>
            <thead>
              <tr>
                <th scope="col">Priority</th>
                <th scope="col">Patient</th>
                <th scope="col">Scan</th>
                <th scope="col">AI top finding</th>
                <th scope="col">Status</th>
                <th scope="col">Waiting</th>
                <th scope="col">
                  <span className="visually-hidden">Open</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {items.map((scan) => (
                <tr
                  key={scan.id}
                  className={scan.priority === 'HIGH' ? 'row-high' : undefined}
                  data-scan-id={scan.id}
                  onDoubleClick={() => navigate(`/scans/${scan.id}`)}
                >
                  <td>
                    <PriorityBadge priority={scan.priority} />
                  </td>
                  <td>{scan.patient.name ?? 'Unnamed patient'}</td>
                  <td>
                    {scan.modality ?? scan.format.toUpperCase()}
                    {scan.bodyPart ? ` · ${scan.bodyPart.toLowerCase()}` : ''}
                    <div className="muted small">{formatDateTime(scan.receivedAt)}</div>
                  </td>
                  <td>
                    {scan.ai?.topFinding
                      ? `${scan.ai.topFinding.display} (${percent(scan.ai.topFinding.probability)})`
                      : scan.ai
                        ? 'No finding above threshold'
                        : '—'}
                    {scan.ai?.uncertain && <span className="badge uncertain">Uncertain</span>}
                  </td>
                  <td>
                    <StatusBadge status={scan.status} />
                  </td>
                  <td>{waitingSince(scan.statusSince)}</td>
                  <td>
                    <Link to={`/scans/${scan.id}`} className="button">
                      Open<span className="visually-hidden"> case of {scan.patient.name ?? 'unnamed patient'}</span>
                    </Link>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <div className="row">
        {nextCursor && (
          <button type="button" onClick={loadMore}>
            Load more
          </button>
        )}
        {refreshedAt && (
          <span className="muted small" data-testid="worklist-updated">
            Updated {refreshedAt.toLocaleTimeString('en-GB')}
            {liveStatus === 'live' ? ' · live' : ' · refreshing every 20 s'}
          </span>
        )}
      </div>
    </div>
  );
}
