/** Sign in: e-mail and password, then a second factor when the account has one (TOTP, or an e-mailed code). */
import { useState, type FormEvent } from 'react';
import { api } from '../api/client.ts';
import { Alert, Link } from '../components/ui.tsx';
import { messageOf } from '../lib/format.ts';
import { useSession } from '../session.tsx';

type Step =
  { kind: 'password' } | { kind: 'second_factor'; challenge: string; method: 'totp' | 'email'; sent: boolean };

export function SignIn() {
  const { endedReason, clearEndedReason } = useSession();
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [code, setCode] = useState('');
  const [step, setStep] = useState<Step>({ kind: 'password' });
  const [error, setError] = useState<string | null>(null);
  const [info, setInfo] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  async function run(action: () => Promise<void>) {
    setBusy(true);
    setError(null);
    try {
      await action();
    } catch (err) {
      setError(messageOf(err));
    } finally {
      setBusy(false);
    }
  }

  const submitPassword = (event: FormEvent) => {
    event.preventDefault();
    clearEndedReason();
    void run(async () => {
      const result = await api.login(email, password);
      if (result.status === 'second_factor_required') {
        setPassword('');
        setStep({ kind: 'second_factor', challenge: result.challenge, method: 'totp', sent: false });
      }
    });
  };

  const submitCode = (event: FormEvent) => {
    event.preventDefault();
    if (step.kind !== 'second_factor') return;
    void run(async () => {
      if (step.method === 'totp') await api.verifyTotp(step.challenge, code.trim(), email);
      else await api.verifyEmailCode(step.challenge, code.trim(), email);
    });
  };

  const useEmailCode = () => {
    if (step.kind !== 'second_factor') return;
    void run(async () => {
      await api.sendEmailCode(step.challenge);
      setCode('');
      setStep({ ...step, method: 'email', sent: true });
      setInfo(`We sent a sign-in code to ${email}. It is valid for 10 minutes.`);
    });
  };

  return (
    <main className="auth-page">
      <div className="auth-card">
        <h1>Sign in to Scanflow</h1>
        {endedReason && <Alert kind="info">{endedReason}</Alert>}
        {error && <Alert>{error}</Alert>}
        {info && step.kind === 'second_factor' && <Alert kind="info">{info}</Alert>}
        {step.kind === 'password' ? (
          <form onSubmit={submitPassword} aria-label="Sign in">
            <label htmlFor="signin-email">E-mail address</label>
            <input
              id="signin-email"
              type="email"
              autoComplete="username"
              required
              value={email}
              onChange={(e) => setEmail(e.target.value)}
            />
            <label htmlFor="signin-password">Password</label>
            <input
              id="signin-password"
              type="password"
              autoComplete="current-password"
              required
              value={password}
              onChange={(e) => setPassword(e.target.value)}
            />
            <button type="submit" className="primary" disabled={busy}>
              {busy ? 'Signing in…' : 'Sign in'}
            </button>
          </form>
        ) : (
          <form onSubmit={submitCode} aria-label="Second factor">
            <p>
              {step.method === 'totp'
                ? 'Enter the 6-digit code from your authenticator app.'
                : 'Enter the code we e-mailed you.'}
            </p>
            <label htmlFor="signin-code">{step.method === 'totp' ? 'Authenticator code' : 'E-mailed code'}</label>
            <input
              id="signin-code"
              inputMode="numeric"
              autoComplete="one-time-code"
              pattern="[0-9 ]{6,8}"
              required
              autoFocus
              value={code}
              onChange={(e) => setCode(e.target.value)}
            />
            <button type="submit" className="primary" disabled={busy}>
              {busy ? 'Checking…' : 'Continue'}
            </button>
            <div className="row">
              {step.method === 'totp' && (
                <button type="button" className="link-button" onClick={useEmailCode} disabled={busy}>
                  No authenticator? E-mail me a code
                </button>
              )}
              {step.method === 'email' && (
                <button type="button" className="link-button" onClick={useEmailCode} disabled={busy}>
                  Send another code
                </button>
              )}
              <button
                type="button"
                className="link-button"
                onClick={() => {
                  setStep({ kind: 'password' });
                  setCode('');
                  setInfo(null);
                  setError(null);
                }}
              >
                Start again
              </button>
            </div>
          </form>
        )}
        <p className="muted">
          New here? <Link to="/register">Create an account</Link>
        </p>
      </div>
    </main>
  );
}
