/** Administration: dashboard counts, clinician verification, users, the outbox and the audit trail. */
import { useState, type FormEvent } from 'react';
import { SCAN_STATUSES } from '@scanflow/domain';
import { api } from '../api/client.ts';
import { useLiveEvents } from '../api/live.ts';
import type { AdminUser, AuditQuery } from '../api/types.ts';
import { DownloadButton } from '../components/Downloads.tsx';
import { Alert, Link, Loading, StatusBadge } from '../components/ui.tsx';
import { formatDateTime, messageOf, waitingSince } from '../lib/format.ts';
import { useAsync } from '../lib/useAsync.ts';

export function AdminDashboard() {
  const counts = useAsync(() => api.counts(), []);
  const pending = useAsync(() => api.listUsers({ pending: true }), []);
  useLiveEvents((event) => {
    if (event.kind === 'scan.status' || event.kind === 'reset') counts.reload();
  });
  const byStatus = new Map((counts.data?.counts ?? []).map((c) => [c.status, c]));
  const pendingCount = pending.data?.items.length ?? 0;
  return (
    <div className="page">
      <h1>Dashboard</h1>
      {counts.error && <Alert>{counts.error}</Alert>}
      {counts.loading && !counts.data && <Loading />}
      <div className="tiles" aria-label="Cases by status">
        {SCAN_STATUSES.map((s) => {
          const c = byStatus.get(s);
          return (
            <div key={s} className={`tile${(c?.high ?? 0) > 0 ? ' tile-high' : ''}`} data-status={s}>
              <StatusBadge status={s} />
              <span className="tile-number">{c?.total ?? 0}</span>
              <span className="small">
                {c?.high ?? 0} high · longest wait {waitingSince(c?.oldestWaitingSince)}
              </span>
            </div>
          );
        })}
      </div>
      <div className="row">
        <Link to="/approvals" className="button primary">
          Approvals ({byStatus.get('PHARMACIST_COMPLETED')?.total ?? 0})
        </Link>
        <Link to="/admin/clinicians" className="button">
          Clinicians awaiting verification ({pending.data ? pendingCount : '…'})
        </Link>
      </div>
    </div>
  );
}

function UserActions({ user, onChanged }: { user: AdminUser; onChanged: (u: AdminUser) => void }) {
  const [confirming, setConfirming] = useState<'disable' | 'reset-second-factor' | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const act = (action: 'verify' | 'disable' | 'enable' | 'reset-second-factor') => {
    setBusy(true);
    setError(null);
    api.userAction(user.id, action).then(
      (u) => {
        setBusy(false);
        setConfirming(null);
        onChanged(u);
      },
      (err: unknown) => {
        setBusy(false);
        setError(messageOf(err));
      },
    );
  };
  if (confirming) {
    return (
      <div className="row">
        <button type="button" className="danger" disabled={busy} onClick={() => act(confirming)}>
          {confirming === 'disable' ? `Yes, disable ${user.name}` : `Yes, reset ${user.name}’s second factor`}
        </button>
        <button type="button" onClick={() => setConfirming(null)}>
          Cancel
        </button>
      </div>
    );
  }
  return (
    <div className="row">
      {(user.role === 'doctor' || user.role === 'pharmacist') && !user.clinicianVerified && (
        <button type="button" className="primary" disabled={busy} onClick={() => act('verify')}>
          Verify licence<span className="visually-hidden"> of {user.name}</span>
        </button>
      )}
      {user.status === 'active' ? (
        <button type="button" disabled={busy} onClick={() => setConfirming('disable')}>
          Disable<span className="visually-hidden"> {user.name}</span>
        </button>
      ) : (
        <button type="button" disabled={busy} onClick={() => act('enable')}>
          Enable<span className="visually-hidden"> {user.name}</span>
        </button>
      )}
      {user.totpEnabled && (
        <button type="button" disabled={busy} onClick={() => setConfirming('reset-second-factor')}>
          Reset second factor<span className="visually-hidden"> of {user.name}</span>
        </button>
      )}
      {error && <Alert>{error}</Alert>}
    </div>
  );
}

export function Users({ pendingOnly }: { pendingOnly: boolean }) {
  const [role, setRole] = useState('');
  const users = useAsync(
    () => api.listUsers(pendingOnly ? { pending: true } : role ? { role } : {}),
    [pendingOnly, role],
  );
  const [changed, setChanged] = useState<Record<string, AdminUser>>({});
  const items = (users.data?.items ?? []).map((u) => changed[u.id] ?? u);
  const title = pendingOnly ? 'Clinicians awaiting verification' : 'Users';
  return (
    <div className="page">
      <h1>{title}</h1>
      {!pendingOnly && (
        <div className="filters card">
          <div>
            <label htmlFor="u-role">Role</label>
            <select id="u-role" value={role} onChange={(e) => setRole(e.target.value)}>
              <option value="">All</option>
              <option value="patient">Patients</option>
              <option value="doctor">Doctors</option>
              <option value="pharmacist">Pharmacists</option>
              <option value="admin">Admins</option>
            </select>
          </div>
        </div>
      )}
      {users.error && <Alert>{users.error}</Alert>}
      {users.loading && !users.data && <Loading />}
      {users.data && items.length === 0 && (
        <p className="muted">{pendingOnly ? 'No clinician is waiting for verification.' : 'No users.'}</p>
      )}
      {items.length > 0 && (
        <div className="table-wrap">
          <table aria-label={title}>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">E-mail</th>
                <th scope="col">Role</th>
                <th scope="col">Licence</th>
                <th scope="col">Status</th>
                <th scope="col">Actions</th>
              </tr>
            </thead>
            <tbody>
              {items.map((u) => (
                <tr key={u.id} data-user-email={u.email}>
                  <td>{u.name}</td>
                  <td>{u.email}</td>
                  <td>{u.role}</td>
                  <td>
                    {u.licenceNumber ? `${u.licenceNumber} (${u.licenceJurisdiction ?? '—'})` : '—'}
                    {(u.role === 'doctor' || u.role === 'pharmacist') && (
                      <div className="small">{u.clinicianVerified ? '✓ verified' : 'not verified'}</div>
                    )}
                  </td>
                  <td>
                    {u.status}
                    {u.totpEnabled && <div className="small">authenticator on</div>}
                  </td>
                  <td>
                    <UserActions user={u} onChanged={(next) => setChanged((c) => ({ ...c, [next.id]: next }))} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </div>
  );
}

export function Outbox() {
  const outbox = useAsync(() => api.outbox(), []);
  return (
    <div className="page">
      <h1>Outbox</h1>
      {outbox.error && <Alert>{outbox.error}</Alert>}
      {outbox.loading && !outbox.data && <Loading />}
      {outbox.data && outbox.data.items.length === 0 && <p className="muted">No messages.</p>}
      {outbox.data && outbox.data.items.length > 0 && (
        <div className="table-wrap">
          <table aria-label="Outbox">
            <thead>
              <tr>
                <th scope="col">Created</th>
                <th scope="col">Kind</th>
                <th scope="col">To</th>
                <th scope="col">Subject</th>
                <th scope="col">Status</th>
                <th scope="col">Attachment</th>
              </tr>
            </thead>
            <tbody>
              {outbox.data.items.map((m) => (
                <tr key={m.id} data-outbox-id={m.id}>
                  <td>{formatDateTime(m.createdAt)}</td>
                  <td>{m.kind}</td>
                  <td>{m.to}</td>
                  <td>
                    <details>
                      <summary>{m.subject}</summary>
                      <p className="prewrap small">{m.body}</p>
                    </details>
                  </td>
                  <td>{m.status}</td>
                  <td>
                    {m.attachment ? (
                      <DownloadButton
                        label={`Download ${m.attachment.name}`}
                        fetch={() => api.outboxAttachment(m.id)}
                      />
                    ) : (
                      <span className="muted">None</span>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </div>
  );
}

interface AuditFilters {
  action: string;
  outcome: '' | 'success' | 'denied' | 'failure';
  actorUserId: string;
  resourceId: string;
  from: string;
  to: string;
}

const NO_FILTERS: AuditFilters = { action: '', outcome: '', actorUserId: '', resourceId: '', from: '', to: '' };

function auditQuery(f: AuditFilters, before?: number): AuditQuery {
  return {
    ...(f.action.trim() ? { action: f.action.trim() } : {}),
    ...(f.outcome ? { outcome: f.outcome } : {}),
    ...(f.actorUserId.trim() ? { actorUserId: f.actorUserId.trim() } : {}),
    ...(f.resourceId.trim() ? { resourceId: f.resourceId.trim() } : {}),
    ...(f.from ? { from: new Date(f.from).toISOString() } : {}),
    ...(f.to ? { to: new Date(f.to).toISOString() } : {}),
    ...(before ? { before } : {}),
    limit: 100,
  };
}

export function Audit() {
  const [filters, setFilters] = useState<AuditFilters>(NO_FILTERS);
  const [applied, setApplied] = useState<{ f: AuditFilters; before?: number }>({ f: NO_FILTERS });
  const audit = useAsync(() => api.audit(auditQuery(applied.f, applied.before)), [applied]);
  const items = audit.data?.items ?? [];
  const last = items[items.length - 1];
  const set = (patch: Partial<AuditFilters>) => setFilters((f) => ({ ...f, ...patch }));
  const apply = (event: FormEvent) => {
    event.preventDefault();
    setApplied({ f: { ...filters } });
  };
  return (
    <div className="page">
      <h1>Audit trail</h1>
      <form className="filters card" onSubmit={apply} aria-label="Audit filters">
        <div>
          <label htmlFor="a-action">Action</label>
          <input
            id="a-action"
            placeholder="e.g. auth.login"
            value={filters.action}
            onChange={(e) => set({ action: e.target.value })}
          />
        </div>
        <div>
          <label htmlFor="a-outcome">Outcome</label>
          <select
            id="a-outcome"
            value={filters.outcome}
            onChange={(e) => set({ outcome: e.target.value as AuditFilters['outcome'] })}
          >
            <option value="">Any</option>
            <option value="success">Success</option>
            <option value="denied">Denied</option>
            <option value="failure">Failure</option>
          </select>
        </div>
        <div>
          <label htmlFor="a-actor">Actor user id</label>
          <input id="a-actor" value={filters.actorUserId} onChange={(e) => set({ actorUserId: e.target.value })} />
        </div>
        <div>
          <label htmlFor="a-resource">Resource id</label>
          <input id="a-resource" value={filters.resourceId} onChange={(e) => set({ resourceId: e.target.value })} />
        </div>
        <div>
          <label htmlFor="a-from">From</label>
          <input
            id="a-from"
            type="datetime-local"
            value={filters.from}
            onChange={(e) => set({ from: e.target.value })}
          />
        </div>
        <div>
          <label htmlFor="a-to">To</label>
          <input id="a-to" type="datetime-local" value={filters.to} onChange={(e) => set({ to: e.target.value })} />
        </div>
        <div className="filter-buttons">
          <button type="submit">Apply</button>
          <button
            type="button"
            onClick={() => {
              setFilters(NO_FILTERS);
              setApplied({ f: NO_FILTERS });
            }}
          >
            Clear
          </button>
        </div>
      </form>
      {audit.error && <Alert>{audit.error}</Alert>}
      {audit.loading && !audit.data && <Loading />}
      {audit.data && items.length === 0 && <p className="muted">No events match.</p>}
      {items.length > 0 && (
        <div className="table-wrap">
          <table aria-label="Audit events" className="audit">
            <thead>
              <tr>
                <th scope="col">#</th>
                <th scope="col">When</th>
                <th scope="col">Actor</th>
                <th scope="col">Action</th>
                <th scope="col">Resource</th>
                <th scope="col">Outcome</th>
                <th scope="col">Reason</th>
              </tr>
            </thead>
            <tbody>
              {items.map((e) => (
                <tr key={e.id} className={`outcome-${e.outcome}`}>
                  <td>{e.seq}</td>
                  <td>{formatDateTime(e.at)}</td>
                  <td>
                    {e.actorRole ?? '—'}
                    {e.actorUserId && <div className="small mono">{e.actorUserId.slice(0, 8)}</div>}
                  </td>
                  <td className="mono">{e.action}</td>
                  <td>
                    {e.resourceType ?? ''}
                    {e.resourceId && <div className="small mono">{e.resourceId.slice(0, 36)}</div>}
                  </td>
                  <td>
                    <span className={`badge outcome-badge-${e.outcome}`}>{e.outcome}</span>
                  </td>
                  <td className="small">{e.reason ?? ''}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <div className="row">
        {applied.before && (
          <button type="button" onClick={() => setApplied({ f: applied.f })}>
            Newest
          </button>
        )}
        {last && items.length >= 100 && (
          <button type="button" onClick={() => setApplied({ f: applied.f, before: last.seq })}>
            Older
          </button>
        )}
      </div>
    </div>
  );
}
