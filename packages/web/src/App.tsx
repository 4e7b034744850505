/** The shell: who is signed in decides the pages; every page sits inside an error boundary. */
import { useEffect, useRef, useState } from 'react';
import type { Role } from '@scanflow/domain';
import { api } from './api/client.ts';
import { live } from './api/live.ts';
import { LiveIndicator, LiveNotices } from './components/LiveNotices.tsx';
import { ErrorBoundary } from './components/ErrorBoundary.tsx';
import { Alert, Link } from './components/ui.tsx';
import { match, navigate, useLocation } from './lib/router.ts';
import { Audit, AdminDashboard, Outbox, Users } from './pages/Admin.tsx';
import { AdminIntegrity } from './pages/AdminIntegrity.tsx';
import { CaseView } from './pages/CaseView.tsx';
import { PatientDashboard } from './pages/PatientDashboard.tsx';
import { Register } from './pages/Register.tsx';
import { Security } from './pages/Security.tsx';
import { SignIn } from './pages/SignIn.tsx';
import { Worklist } from './pages/Worklist.tsx';
import { useSession, useSignedIn } from './session.tsx';

const NAV: Record<Role, { to: string; label: string }[]> = {
  patient: [{ to: '/', label: 'My scans' }],
  doctor: [{ to: '/', label: 'Worklist' }],
  pharmacist: [{ to: '/', label: 'Queue' }],
  admin: [
    { to: '/', label: 'Dashboard' },
    { to: '/approvals', label: 'Approvals' },
    { to: '/admin/clinicians', label: 'Clinicians' },
    { to: '/admin/users', label: 'Users' },
    { to: '/admin/outbox', label: 'Outbox' },
    { to: '/admin/audit', label: 'Audit' },
    { to: '/admin/integrity', label: 'Integrity' },
  ],
};

export function App() {
  const { session } = useSession();
  const { path } = useLocation();
  // Move focus to the new page's content after in-app navigation, as a full page load would.
  const first = useRef(true);
  useEffect(() => {
    if (first.current) {
      first.current = false;
      return;
    }
    document.getElementById('main')?.focus({ preventScroll: true });
  }, [path]);
  // One live channel per signed-in tab.
  const userId = session?.user.id ?? null;
  useEffect(() => {
    if (!userId) return undefined;
    live.start();
    return () => live.stop();
  }, [userId]);
  if (!session)
    return <ErrorBoundary resetKey={path}>{path === '/register' ? <Register /> : <SignIn />}</ErrorBoundary>;
  return (
    <div className="shell">
      <Header />
      <LiveNotices role={session.user.role} userId={session.user.id} />
      <main id="main" tabIndex={-1}>
        <ErrorBoundary resetKey={path}>
          <Page path={path} />
        </ErrorBoundary>
      </main>
    </div>
  );
}

function Header() {
  const { signOut } = useSession();
  const { user, email } = useSignedIn();
  const { path } = useLocation();
  return (
    <header className="topbar">
      <a className="skip" href="#main">
        Skip to content
      </a>
      <Link to="/" className="brand">
        Scanflow
      </Link>
      <nav aria-label="Main">
        <ul>
          {NAV[user.role].map((item) => (
            <li key={item.to}>
              <Link to={item.to} className={path === item.to ? 'active' : undefined}>
                {item.label}
              </Link>
            </li>
          ))}
          <li>
            <Link to="/account/security" className={path === '/account/security' ? 'active' : undefined}>
              Security
            </Link>
          </li>
        </ul>
      </nav>
      <div className="who">
        <LiveIndicator />
        <span className="who-email" title={email}>
          {email}
        </span>
        <span className="badge role-badge">{user.role}</span>
        <button type="button" onClick={() => void signOut().then(() => navigate('/', { replace: true }))}>
          Sign out
        </button>
      </div>
    </header>
  );
}

function Page({ path }: { path: string }) {
  const { user } = useSignedIn();
  if (user.totpEnrolmentRequired) return <Security required />;
  if (path === '/account/security') return <Security />;
  if ((user.role === 'doctor' || user.role === 'pharmacist') && !user.clinicianVerified) {
    return (
      <div className="page narrow">
        <h1>Awaiting verification</h1>
        <Alert kind="info">An administrator has to verify your licence before you can see patient cases.</Alert>
        <CheckAgain />
      </div>
    );
  }
  const scan = match('/scans/:id', path);
  if (scan?.id) return <CaseView key={scan.id} id={scan.id} />;
  switch (user.role) {
    case 'patient':
      if (path === '/') return <PatientDashboard />;
      break;
    case 'doctor':
    case 'pharmacist':
      if (path === '/') return <Worklist role={user.role} />;
      break;
    case 'admin':
      if (path === '/') return <AdminDashboard />;
      if (path === '/approvals') return <Worklist role="admin" />;
      if (path === '/admin/clinicians') return <Users pendingOnly />;
      if (path === '/admin/users') return <Users pendingOnly={false} />;
      if (path === '/admin/outbox') return <Outbox />;
      if (path === '/admin/audit') return <Audit />;
      if (path === '/admin/integrity') return <AdminIntegrity />;
      break;
  }
  if (path === '/register' || path === '/sign-in') return <Redirect />;
  return (
    <div className="page narrow">
      <h1>Page not found</h1>
      <p>
        There is nothing at this address. <Link to="/">Go to the start page</Link>
      </p>
    </div>
  );
}

function CheckAgain() {
  const [state, setState] = useState<'idle' | 'checking' | 'still'>('idle');
  const check = () => {
    setState('checking');
    api.refreshUser().then(
      () => setState('still'),
      () => setState('still'),
    );
  };
  return (
    <p>
      <button type="button" onClick={check} disabled={state === 'checking'}>
        Check again
      </button>{' '}
      {state === 'still' && <span role="status">Not verified yet.</span>}
    </p>
  );
}

function Redirect() {
  useEffect(() => navigate('/', { replace: true }), []);
  return null;
}
