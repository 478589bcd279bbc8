/**
 * Log in (password, or a login provider the server offers), sign up, activate an account
 * (an administrator's invitation), and ask for a password-reset mail.
 */
import { useState, type FormEvent } from 'react';
import { api, apiList } from '../api';
import { useAction, usePoll } from '../hooks';
import { session } from '../session';
import type { Session } from '../types';
import { ErrorText } from '../ui';
import { leaveLink } from './AuthLinks';

type Mode = 'login' | 'signup' | 'activate' | 'forgot';

export function LoginPage({ notice }: { notice?: string | undefined }) {
  // An activation link lands on /activate?token=... (the mail's), or ?activate=... (ours before).
  const linkToken = () => new URLSearchParams(location.search).get(location.pathname === '/activate' ? 'token' : 'activate');
  const [mode, setMode] = useState<Mode>(() => (linkToken() ? 'activate' : 'login'));
  const [email, setEmail] = useState('');
  const [name, setName] = useState('');
  const [password, setPassword] = useState('');
  const [token, setToken] = useState(() => linkToken() ?? '');
  const providers = usePoll(() => apiList<{ name: string }>('/auth/providers', 'providers'), []);
  const [sent, setSent] = useState(false);
  const submit = useAction(async () => {
    if (mode === 'forgot') {
      await api('POST', '/me/password/reset', { email });
      setSent(true);
      return;
    }
    const s =
      mode === 'login'
        ? await api<Session>('POST', '/auth/login', { email, password })
        : mode === 'signup'
          ? await api<Session>('POST', '/auth/signup', { email, password, ...(name ? { name } : {}) })
          : await api<Session>('POST', '/auth/activate', { token, password });
    session.set(s);
    // The link's token leaves the address bar with the link's path.
    if (location.pathname !== '/' || location.search) leaveLink('#/capsules');
    else if (!location.hash || location.hash === '#/') location.hash = '#/capsules';
  });
  const onSubmit = (e: FormEvent) => {
    e.preventDefault();
    void submit.run();
  };
  const title = mode === 'login' ? 'Log in to Wrenn' : mode === 'signup' ? 'Create your account' : mode === 'forgot' ? 'Reset your password' : 'Activate your account';
  return (
    <main className="auth">
      <form className="card auth-card" onSubmit={onSubmit} aria-describedby={submit.error ? 'auth-error' : undefined}>
        <div className="brand brand-large" aria-hidden="true">
          ◆ Wrenn
        </div>
        <h1>{title}</h1>
        <ErrorText error={notice} />
        {mode === 'forgot' && sent && (
          <p role="status">If an account uses this address, a link to choose a new password is on its way (it works once, for 15 minutes).</p>
        )}
        {mode !== 'activate' && (
          <label>
            Email
            <input type="email" autoComplete="email" required value={email} onChange={(e) => setEmail(e.target.value)} />
          </label>
        )}
        {mode === 'signup' && (
          <label>
            Name <span className="muted">(optional)</span>
            <input autoComplete="name" value={name} onChange={(e) => setName(e.target.value)} />
          </label>
        )}
        {mode === 'activate' && (
          <label>
            Activation token
            <input required value={token} onChange={(e) => setToken(e.target.value)} />
          </label>
        )}
        {mode !== 'forgot' && (
        <label>
          Password
          <input
            type="password"
            autoComplete={mode === 'login' ? 'current-password' : 'new-password'}
            required
            minLength={mode === 'login' ? 1 : 8}
            value={password}
            onChange={(e) => setPassword(e.target.value)}
          />
        </label>
        )}
        <ErrorText error={submit.error} id="auth-error" />
        <button type="submit" className="primary" disabled={submit.busy}>
          {submit.busy ? 'Please wait…' : mode === 'login' ? 'Log in' : mode === 'signup' ? 'Sign up' : mode === 'forgot' ? 'Send me a link' : 'Activate'}
        </button>
        {mode === 'login' &&
          (providers.data ?? []).map(({ name }) => (
            // A full navigation: the server sets the attempt cookie and sends the browser to the provider.
            <a key={name} className="button" href={`/v1/auth/oauth/${encodeURIComponent(name)}`}>
              Log in with {name}
            </a>
          ))}
        <p className="muted small">
          {mode === 'login' ? (
            <>
              No account?{' '}
              <button type="button" className="link" onClick={() => (submit.clear(), setMode('signup'))}>
                Sign up
              </button>
              {' · '}
              <button type="button" className="link" onClick={() => (submit.clear(), setMode('activate'))}>
                I have an activation token
              </button>
            </>
          ) : (
            <>
              Have an account?{' '}
              <button type="button" className="link" onClick={() => (submit.clear(), setMode('login'))}>
                Log in
              </button>
            </>
          )}
        </p>
        {mode === 'login' && (
          <p className="muted small">
            <button type="button" className="link" onClick={() => (submit.clear(), setSent(false), setMode('forgot'))}>
              Forgot your password?
            </button>
          </p>
        )}
      </form>
    </main>
  );
}
