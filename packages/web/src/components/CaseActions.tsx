/**
 * What the signed-in role can do with a case at its current step: a doctor verifies with findings,
 * a pharmacist completes with a prescription, an admin approves; each may send it back with a
 * reason. Which step belongs to whom comes from the domain's lifecycle table.
 */
import { useState, type FormEvent, type ReactNode } from 'react';
import { ROUTES, validatePrescription, type PrescriptionItem, type Route } from '@scanflow/domain';
import { api } from '../api/client.ts';
import type { ScanDetail, TransitionInput } from '../api/types.ts';
import { messageOf } from '../lib/format.ts';
import { Alert } from './ui.tsx';

interface ActionProps {
  scan: ScanDetail;
  onDone: (updated: ScanDetail, message: string) => void;
}

function useSubmit(scan: ScanDetail, onDone: ActionProps['onDone']) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const submit = (input: TransitionInput, message: string) => {
    setBusy(true);
    setError(null);
    api.transition(scan.id, input).then(
      (updated) => {
        setBusy(false);
        onDone(updated, message);
      },
      (err: unknown) => {
        setBusy(false);
        setError(messageOf(err));
      },
    );
  };
  return { busy, error, setError, submit };
}

export function SendBackForm({ scan, onDone, explanation }: ActionProps & { explanation: string }) {
  const [reason, setReason] = useState('');
  const { busy, error, submit } = useSubmit(scan, onDone);
  const send = (event: FormEvent) => {
    event.preventDefault();
    submit({ action: 'send_back', version: scan.version, reason: reason.trim() }, 'The case was sent back.');
  };
  return (
    <form className="card send-back" onSubmit={send} aria-label="Send back">
      <h2>Send back</h2>
      <p className="muted small">{explanation}</p>
      {error && <Alert>{error}</Alert>}
      <label htmlFor="sendback-reason">Reason</label>
      <textarea
        id="sendback-reason"
        required
        maxLength={2000}
        rows={2}
        value={reason}
        onChange={(e) => setReason(e.target.value)}
      />
      <button type="submit" className="danger" disabled={busy || reason.trim().length === 0}>
        Send back
      </button>
    </form>
  );
}

export function FindingsForm({ scan, onDone }: ActionProps) {
  const [findings, setFindings] = useState('');
  const [impression, setImpression] = useState('');
  const { busy, error, submit } = useSubmit(scan, onDone);
  const verify = (event: FormEvent) => {
    event.preventDefault();
    submit(
      {
        action: 'verify',
        version: scan.version,
        findings: findings.trim(),
        ...(impression.trim() ? { impression: impression.trim() } : {}),
      },
      'Verified. The case has gone to the pharmacist.',
    );
  };
  return (
    <form className="card" onSubmit={verify} aria-label="Findings">
      <h2>Findings</h2>
      {error && <Alert>{error}</Alert>}
      <label htmlFor="findings">Findings</label>
      <textarea
        id="findings"
        required
        rows={5}
        maxLength={20000}
        value={findings}
        onChange={(e) => setFindings(e.target.value)}
      />
      <label htmlFor="impression">Impression</label>
      <textarea
        id="impression"
        rows={3}
        maxLength={20000}
        value={impression}
        onChange={(e) => setImpression(e.target.value)}
      />
      <button type="submit" className="primary" disabled={busy || findings.trim().length === 0}>
        {busy ? 'Verifying…' : 'Verify'}
      </button>
    </form>
  );
}

const EMPTY_ITEM: PrescriptionItem = { drug: '', dose: '', route: 'oral', frequency: '', duration: '', notes: '' };

export function PrescriptionForm({ scan, onDone }: ActionProps) {
  const [items, setItems] = useState<PrescriptionItem[]>([{ ...EMPTY_ITEM }]);
  const [notes, setNotes] = useState('');
  const { busy, error, setError, submit } = useSubmit(scan, onDone);

  const setItem = (index: number, patch: Partial<PrescriptionItem>) =>
    setItems((list) => list.map((item, i) => (i === index ? { ...item, ...patch } : item)));

  const complete = (event: FormEvent) => {
    event.preventDefault();
    let prescription;
    try {
      // The same rules the server applies, checked here first for a quicker answer.
      prescription = validatePrescription({
        items: items.map(({ notes: itemNotes, ...rest }) => ({
          ...rest,
          ...(itemNotes?.trim() ? { notes: itemNotes } : {}),
        })),
        ...(notes.trim() ? { notes } : {}),
      });
    } catch (err) {
      setError(messageOf(err));
      return;
    }
    submit(
      { action: 'complete', version: scan.version, prescription },
      'Prescription saved. The case is awaiting approval.',
    );
  };

  return (
    <form className="card prescription" onSubmit={complete} aria-label="Prescription" noValidate>
      <h2>Prescription</h2>
      {error && <Alert>{error}</Alert>}
      {items.map((item, i) => (
        <fieldset key={i} className="rx-item">
          <legend>Item {i + 1}</legend>
          <div className="grid-3">
            <Field id={`rx-${i}-drug`} label="Drug">
              <input
                id={`rx-${i}-drug`}
                required
                maxLength={200}
                value={item.drug}
                onChange={(e) => setItem(i, { drug: e.target.value })}
              />
            </Field>
            <Field id={`rx-${i}-dose`} label="Dose" hint='Amount and unit, e.g. "500 mg"'>
              <input
                id={`rx-${i}-dose`}
                required
                maxLength={50}
                value={item.dose}
                onChange={(e) => setItem(i, { dose: e.target.value })}
              />
            </Field>
            <Field id={`rx-${i}-route`} label="Route">
              <select
                id={`rx-${i}-route`}
                value={item.route}
                onChange={(e) => setItem(i, { route: e.target.value as Route })}
              >
                {ROUTES.map((r) => (
                  <option key={r} value={r}>
                    {r}
                  </option>
                ))}
              </select>
            </Field>
            <Field id={`rx-${i}-frequency`} label="Frequency" hint='e.g. "three times daily"'>
              <input
                id={`rx-${i}-frequency`}
                required
                maxLength={100}
                value={item.frequency}
                onChange={(e) => setItem(i, { frequency: e.target.value })}
              />
            </Field>
            <Field id={`rx-${i}-duration`} label="Duration" hint='e.g. "7 days", "2 weeks", "ongoing"'>
              <input
                id={`rx-${i}-duration`}
                required
                maxLength={50}
                value={item.duration}
                onChange={(e) => setItem(i, { duration: e.target.value })}
              />
            </Field>
            <Field id={`rx-${i}-notes`} label="Notes (optional)">
              <input
                id={`rx-${i}-notes`}
                maxLength={2000}
                value={item.notes ?? ''}
                onChange={(e) => setItem(i, { notes: e.target.value })}
              />
            </Field>
          </div>
          {items.length > 1 && (
            <button type="button" className="link-button" onClick={() => setItems((l) => l.filter((_, j) => j !== i))}>
              Remove item {i + 1}
            </button>
          )}
        </fieldset>
      ))}
      <button type="button" onClick={() => setItems((l) => [...l, { ...EMPTY_ITEM }])} disabled={items.length >= 20}>
        Add another item
      </button>
      <label htmlFor="rx-notes">Prescription notes (optional; required if no item is given)</label>
      <textarea id="rx-notes" rows={2} maxLength={5000} value={notes} onChange={(e) => setNotes(e.target.value)} />
      <button type="submit" className="primary" disabled={busy}>
        {busy ? 'Saving…' : 'Complete'}
      </button>
    </form>
  );
}

function Field({ id, label, hint, children }: { id: string; label: string; hint?: string; children: ReactNode }) {
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      {children}
      {hint && <span className="hint">{hint}</span>}
    </div>
  );
}

export function ApprovePanel({ scan, onDone }: ActionProps) {
  const { busy, error, submit } = useSubmit(scan, onDone);
  return (
    <div className="card">
      <h2>Approval</h2>
      <p>Approving generates the signed report and sends it to the patient.</p>
      {error && <Alert>{error}</Alert>}
      <button
        type="button"
        className="primary"
        disabled={busy}
        onClick={() => submit({ action: 'approve', version: scan.version }, 'Approved. The report is ready.')}
      >
        {busy ? 'Approving…' : 'Approve'}
      </button>
    </div>
  );
}
