/**
 * Security and integrity for administrators: intrusion signals (failed sign-ins, refusals, rejected
 * tokens, integrity failures) summarised, the alerts, and the tamper-evident log's latest signed
 * checkpoint with its witnesses' co-signatures. Each part says plainly when the server lacks it.
 */
import type { ReactNode } from 'react';
import { ApiError, api } from '../api/client.ts';
import { Alert, Loading } from '../components/ui.tsx';
import { IntegrityReviewQueue } from '../components/IntegrityReviewQueue.tsx';
import { formatDateTime } from '../lib/format.ts';
import { useAsync, type AsyncState } from '../lib/useAsync.ts';

/** Said instead of an error when there is simply nothing yet (the API answers 404). */
const NOTHING_YET = 'No signed checkpoint of the log yet.';

/** A section's data, its loading state, or why it is missing. */
function Part<T>({ state, children }: { state: AsyncState<T>; children: (data: T) => ReactNode }) {
  if (state.error === NOTHING_YET) return <p className="muted">{state.error}</p>;
  if (state.error) return <Alert>{state.error}</Alert>;
  if (!state.data) return <Loading />;
  return <>{children(state.data)}</>;
}

const tryLoad = async <T,>(load: () => Promise<T>, missing: string): Promise<T> => {
  try {
    return await load();
  } catch (error) {
    if (error instanceof ApiError && error.status === 404) throw new Error(missing);
    throw error;
  }
};

export function AdminIntegrity() {
  const signals = useAsync(() => api.securitySignals(), []);
  const alerts = useAsync(() => api.alerts(), []);
  const checkpoint = useAsync(() => tryLoad(() => api.latestCheckpoint(), 'No signed checkpoint of the log yet.'), []);
  return (
    <div className="page">
      <h1>Security and integrity</h1>
      <IntegrityReviewQueue />
      <section className="card" aria-labelledby="alerts-title">
        <h2 id="alerts-title">Integrity alerts</h2>
        <Part state={alerts}>
          {(data) =>
            data.items.length === 0 ? (
              <p className="muted">No alerts.</p>
            ) : (
              <ul className="plain-list" aria-label="Integrity alerts">
                {data.items.map((a) => (
                  <li key={a.id} data-alert-kind={a.kind}>
                    <span className="badge alert-badge">Alert</span> <strong>{a.kind.replace(/[._]/g, ' ')}</strong>
                    {a.resourceType ? ` · ${a.resourceType} ${a.resourceId ?? ''}` : ''} · {formatDateTime(a.createdAt)}{' '}
                    {a.scope === 'node' ? '(this server)' : ''}
                  </li>
                ))}
              </ul>
            )
          }
        </Part>
      </section>
      <section className="card" aria-labelledby="signals-title">
        <h2 id="signals-title">Security signals (last 24 hours)</h2>
        <Part state={signals}>
          {(data) => (
            <>
              <p>
                <span className="tile-number" data-testid="signals-total">
                  {data.total}
                </span>{' '}
                signals from {formatDateTime(data.from)} to {formatDateTime(data.to)}
              </p>
              <div className="grid-3">
                <CountTable title="By kind" rows={data.byAction.map((r) => [`${r.action} (${r.outcome})`, r.count])} />
                <CountTable title="By user" rows={data.byUser.map((r) => [r.actorUserId ?? 'unknown', r.count])} />
                <CountTable
                  title="By address"
                  rows={data.byAddress.map((r) => [r.clientAddress ?? 'unknown', r.count])}
                />
              </div>
            </>
          )}
        </Part>
      </section>
      <section className="card" aria-labelledby="log-title">
        <h2 id="log-title">Tamper-evident log</h2>
        <Part state={checkpoint}>
          {(cp) => (
            <>
              <dl className="kv">
                <div>
                  <dt>Latest checkpoint</dt>
                  <dd data-testid="checkpoint-size">{cp.size} entries</dd>
                </div>
                <div>
                  <dt>Signed</dt>
                  <dd>{formatDateTime(cp.createdAt)}</dd>
                </div>
                <div>
                  <dt>Root hash</dt>
                  <dd className="mono">{cp.rootHash}</dd>
                </div>
                <div>
                  <dt>Log</dt>
                  <dd>{cp.origin}</dd>
                </div>
              </dl>
              <h3>Witness co-signatures</h3>
              {cp.cosignatures.length === 0 ? (
                <p className="muted">No witness has co-signed this checkpoint yet.</p>
              ) : (
                <ul className="plain-list" aria-label="Witness co-signatures">
                  {cp.cosignatures.map((c) => (
                    <li key={c.witness}>
                      <strong>{c.witness}</strong> · {formatDateTime(c.cosignedAt)}
                    </li>
                  ))}
                </ul>
              )}
              <details>
                <summary>Signed note</summary>
                <pre className="mono small">{cp.note}</pre>
              </details>
            </>
          )}
        </Part>
      </section>
    </div>
  );
}

function CountTable({ title, rows }: { title: string; rows: [string, number][] }) {
  return (
    <table className="count-table" aria-label={title}>
      <caption>{title}</caption>
      <tbody>
        {rows.length === 0 ? (
          <tr>
            <td className="muted">None</td>
          </tr>
        ) : (
          rows.map(([label, count]) => (
            <tr key={label}>
              <td className="mono small">{label}</td>
              <td>{count}</td>
            </tr>
          ))
        )}
      </tbody>
    </table>
  );
}
