/** TOTP enrolment: a QR code (and the secret, for typing in), then a first code to confirm. */
import { useEffect, useRef, useState, type FormEvent } from 'react';
import QRCode from 'qrcode';
import { api } from '../api/client.ts';
import { Alert } from '../components/ui.tsx';
import { messageOf } from '../lib/format.ts';
import { useSignedIn } from '../session.tsx';

export function Security({ required = false }: { required?: boolean }) {
  const session = useSignedIn();
  const [enrolment, setEnrolment] = useState<{ secret: string; otpauthUri: string; qr: string } | null>(null);
  const [code, setCode] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [done, setDone] = useState(false);
  const [busy, setBusy] = useState(false);

  const started = useRef(false);

  const start = () => {
    started.current = true;
    setBusy(true);
    setError(null);
    api
      .beginTotpEnrolment()
      .then(async (result) => {
        const qr = await QRCode.toDataURL(result.otpauthUri, { margin: 2, width: 220, errorCorrectionLevel: 'M' });
        setEnrolment({ ...result, qr });
      })
      .catch((err: unknown) => setError(messageOf(err)))
      .finally(() => setBusy(false));
  };

  // Start once on arrival when enrolment is required (a second start would replace the secret
  // the QR code shows).
  useEffect(() => {
    if (required && !started.current) start();
  }, [required]);

  const confirm = (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    api
      .confirmTotpEnrolment(code.trim())
      .then(() => setDone(true))
      .catch((err: unknown) => setError(messageOf(err)))
      .finally(() => setBusy(false));
  };

  return (
    <section className="page narrow" aria-labelledby="security-title">
      <h1 id="security-title">Two-step sign-in</h1>
      {required && !done && (
        <Alert kind="info">Administrators must set up an authenticator app before they can use Scanflow.</Alert>
      )}
      {error && <Alert>{error}</Alert>}
      {done ? (
        <Alert kind="success">Your authenticator is set up. You will be asked for a code each time you sign in.</Alert>
      ) : session.user.totpEnabled && !enrolment ? (
        <p>Your account already uses an authenticator app. Ask an administrator to reset it if you lose your device.</p>
      ) : !enrolment ? (
        <>
          <p>Protect your account with a code from an authenticator app each time you sign in.</p>
          <button type="button" className="primary" onClick={start} disabled={busy}>
            Set up an authenticator app
          </button>
        </>
      ) : (
        <div className="enrol">
          <ol>
            <li>Scan this QR code with your authenticator app.</li>
            <li>Or type in the key shown below.</li>
            <li>Enter the 6-digit code the app shows.</li>
          </ol>
          <img src={enrolment.qr} alt="QR code to add Scanflow to your authenticator app" width={220} height={220} />
          <p>
            Key:{' '}
            <code className="secret" data-testid="totp-secret">
              {enrolment.secret}
            </code>
          </p>
          <form onSubmit={confirm} aria-label="Confirm authenticator">
            <label htmlFor="enrol-code">Code from the app</label>
            <input
              id="enrol-code"
              inputMode="numeric"
              autoComplete="one-time-code"
              required
              value={code}
              onChange={(e) => setCode(e.target.value)}
            />
            <button type="submit" className="primary" disabled={busy}>
              Confirm
            </button>
          </form>
        </div>
      )}
    </section>
  );
}
