/** Registration: patients are active at once; doctors and pharmacists wait for licence verification. */
import { useState, type FormEvent } from 'react';
import { api } from '../api/client.ts';
import type { RegisterInput } from '../api/types.ts';
import { Alert, Link } from '../components/ui.tsx';
import { messageOf } from '../lib/format.ts';

export function Register() {
  const [form, setForm] = useState<RegisterInput>({
    organisation: '',
    email: '',
    password: '',
    name: '',
    role: 'patient',
  });
  const [confirm, setConfirm] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [done, setDone] = useState<{ clinicianVerified: boolean } | null>(null);
  const [busy, setBusy] = useState(false);
  const clinician = form.role !== 'patient';
  const set = (patch: Partial<RegisterInput>) => setForm((f) => ({ ...f, ...patch }));

  const submit = (event: FormEvent) => {
    event.preventDefault();
    setError(null);
    if (form.password.length < 10) return setError('Choose a password of at least 10 characters.');
    if (form.password !== confirm) return setError('The two passwords do not match.');
    const input: RegisterInput = {
      organisation: form.organisation.trim(),
      email: form.email.trim(),
      password: form.password,
      name: form.name.trim(),
      role: form.role,
      ...(clinician
        ? { licenceNumber: form.licenceNumber?.trim(), licenceJurisdiction: form.licenceJurisdiction?.trim() }
        : form.dateOfBirth
          ? { dateOfBirth: form.dateOfBirth }
          : {}),
    };
    setBusy(true);
    api.register(input).then(
      (result) => {
        setBusy(false);
        setDone({ clinicianVerified: result.clinicianVerified });
      },
      (err: unknown) => {
        setBusy(false);
        setError(messageOf(err));
      },
    );
  };

  if (done) {
    return (
      <main className="auth-page">
        <div className="auth-card">
          <h1>Account created</h1>
          <Alert kind="success">
            {done.clinicianVerified || !clinician
              ? 'Your account is ready. You can sign in now.'
              : 'Your account is created. An administrator will verify your licence before you can see patient cases; you can sign in meanwhile.'}
          </Alert>
          <p>
            <Link to="/" className="button primary">
              Go to sign in
            </Link>
          </p>
        </div>
      </main>
    );
  }

  return (
    <main className="auth-page">
      <div className="auth-card wide">
        <h1>Create a Scanflow account</h1>
        {error && <Alert>{error}</Alert>}
        <form onSubmit={submit} aria-label="Register">
          <fieldset>
            <legend>I am a</legend>
            <div className="choice-row">
              {(['patient', 'doctor', 'pharmacist'] as const).map((role) => (
                <label key={role} className="choice">
                  <input
                    type="radio"
                    name="role"
                    value={role}
                    checked={form.role === role}
                    onChange={() => set({ role })}
                  />
                  {role === 'patient' ? 'Patient' : role === 'doctor' ? 'Doctor' : 'Pharmacist'}
                </label>
              ))}
            </div>
          </fieldset>
          <label htmlFor="reg-org">Organisation code</label>
          <input
            id="reg-org"
            required
            maxLength={63}
            value={form.organisation}
            onChange={(e) => set({ organisation: e.target.value })}
            aria-describedby="reg-org-hint"
          />
          <p id="reg-org-hint" className="hint">
            The short code your clinic gave you, e.g. “demo”.
          </p>
          <label htmlFor="reg-name">Full name</label>
          <input
            id="reg-name"
            required
            maxLength={200}
            autoComplete="name"
            value={form.name}
            onChange={(e) => set({ name: e.target.value })}
          />
          <label htmlFor="reg-email">E-mail address</label>
          <input
            id="reg-email"
            type="email"
            required
            autoComplete="email"
            value={form.email}
            onChange={(e) => set({ email: e.target.value })}
          />
          {clinician ? (
            <div className="grid-2">
              <div>
                <label htmlFor="reg-licence">Licence number</label>
                <input
                  id="reg-licence"
                  required
                  maxLength={64}
                  value={form.licenceNumber ?? ''}
                  onChange={(e) => set({ licenceNumber: e.target.value })}
                />
              </div>
              <div>
                <label htmlFor="reg-jurisdiction">Licensing jurisdiction</label>
                <input
                  id="reg-jurisdiction"
                  required
                  maxLength={100}
                  value={form.licenceJurisdiction ?? ''}
                  onChange={(e) => set({ licenceJurisdiction: e.target.value })}
                />
              </div>
            </div>
          ) : (
            <>
              <label htmlFor="reg-dob">Date of birth (optional)</label>
              <input
                id="reg-dob"
                type="date"
                value={form.dateOfBirth ?? ''}
                onChange={(e) => set({ dateOfBirth: e.target.value })}
              />
            </>
          )}
          <div className="grid-2">
            <div>
              <label htmlFor="reg-password">Password</label>
              <input
                id="reg-password"
                type="password"
                required
                minLength={10}
                autoComplete="new-password"
                aria-describedby="reg-password-hint"
                value={form.password}
                onChange={(e) => set({ password: e.target.value })}
              />
              <span id="reg-password-hint" className="hint">
                At least 10 characters.
              </span>
            </div>
            <div>
              <label htmlFor="reg-confirm">Repeat the password</label>
              <input
                id="reg-confirm"
                type="password"
                required
                autoComplete="new-password"
                value={confirm}
                onChange={(e) => setConfirm(e.target.value)}
              />
            </div>
          </div>
          <button type="submit" className="primary" disabled={busy}>
            {busy ? 'Creating…' : 'Create account'}
          </button>
        </form>
        <p className="muted">
          Already registered? <Link to="/">Sign in</Link>
        </p>
      </div>
    </main>
  );
}
