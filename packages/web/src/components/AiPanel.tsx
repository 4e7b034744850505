/** The AI pre-read: decision support, shown with its disclaimer every time. */
import { useState } from 'react';
import { api } from '../api/client.ts';
import type { AiResult } from '../api/types.ts';
import { messageOf, percent } from '../lib/format.ts';
import { Alert, PriorityBadge } from './ui.tsx';

/** A doctor asks for the analysis to run again; the new version replaces this one when it is ready. */
function Rerun({ scanId }: { scanId: string }) {
  const [state, setState] = useState<'idle' | 'busy' | 'queued'>('idle');
  const [error, setError] = useState<string | null>(null);
  const rerun = () => {
    setState('busy');
    setError(null);
    api.reanalyse(scanId).then(
      () => setState('queued'),
      (err: unknown) => {
        setState('idle');
        setError(messageOf(err));
      },
    );
  };
  return (
    <div className="rerun">
      <button type="button" onClick={rerun} disabled={state !== 'idle'}>
        {state === 'busy' ? 'Queuing…' : 'Re-run analysis'}
      </button>
      {state === 'queued' && (
        <span role="status" className="small">
          {' '}
          Queued: the new result replaces this one when it is ready (earlier runs are kept).
        </span>
      )}
      {error && <Alert>{error}</Alert>}
    </div>
  );
}

export function AiPanel({ ai, scanId, canRerun }: { ai: AiResult | null; scanId: string; canRerun: boolean }) {
  if (!ai) {
    return (
      <section className="card ai-panel" aria-labelledby="ai-title">
        <h2 id="ai-title">AI pre-read</h2>
        <p className="muted">The AI pre-read has not run on this scan yet.</p>
      </section>
    );
  }
  const labels = [...ai.labels].sort((a, b) => b.probability - a.probability);
  return (
    <section className="card ai-panel" aria-labelledby="ai-title">
      <h2 id="ai-title">AI pre-read</h2>
      <p className="disclaimer" role="note">
        <strong>Decision support, not a diagnosis.</strong> {ai.disclaimer}
      </p>
      <dl className="ai-summary">
        <div>
          <dt>Top finding</dt>
          <dd data-testid="ai-top-finding">
            {ai.topFinding
              ? `${ai.topFinding.display} (${percent(ai.topFinding.probability)})`
              : 'None above threshold'}
          </dd>
        </div>
        <div>
          <dt>Priority</dt>
          <dd>
            <PriorityBadge priority={ai.priority} />{' '}
            <span className="muted small">score {ai.priorityScore.toFixed(2)}</span>
          </dd>
        </div>
        <div>
          <dt>Confidence</dt>
          <dd>
            {ai.uncertain ? (
              <span className="badge uncertain">
                <span aria-hidden="true">? </span>Uncertain
              </span>
            ) : (
              'Confident'
            )}
          </dd>
        </div>
        <div>
          <dt>Model</dt>
          <dd>
            {ai.model.name} <span className="muted">v{ai.model.version}</span>
          </dd>
        </div>
      </dl>
      <ul className="ai-labels" aria-label="Label probabilities">
        {labels.map((label) => (
          <li key={label.id}>
            <span className="ai-label-name">{label.display}</span>
            <span className="ai-bar" aria-hidden="true">
              <span
                className={`ai-bar-fill${ai.topFinding?.id === label.id ? ' top' : ''}`}
                style={{ width: `${Math.round(label.probability * 100)}%` }}
              />
            </span>
            <span className="ai-label-value">{percent(label.probability)}</span>
          </li>
        ))}
      </ul>
      {canRerun && <Rerun scanId={scanId} />}
    </section>
  );
}
