/** Log in, sign up, and activate an account (an administrator's invitation or reset token). */
import { useState, type FormEvent } from 'react';
import { api } from '../api';
import { useAction } from '../hooks';
import { session } from '../session';
import type { Session } from '../types';
import { ErrorText } from '../ui';

type Mode = 'login' | 'signup' | 'activate';

export function LoginPage() {
  const [mode, setMode] = useState<Mode>(() => (new URLSearchParams(location.search).get('activate') ? 'activate' : 'login'));
  const [email, setEmail] = useState('');
  const [name, setName] = useState('');
  const [password, setPassword] = useState('');
  const [token, setToken] = useState(() => new URLSearchParams(location.search).get('activate') ?? '');
  const submit = useAction(async () => {
    const s =
      mode === 'login'
        ? await api<Session>('POST', '/auth/login', { email, password })
        : mode === 'signup'
          ? await api<Session>('POST', '/auth/signup', { email, password, ...(name ? { name } : {}) })
          : await api<Session>('POST', '/auth/activate', { token, password });
    session.set(s);
    if (!location.hash || location.hash === '#/') location.hash = '#/capsules';
  });
  const onSubmit = (e: FormEvent) => {
    e.preventDefault();
    void submit.run();
  };
  const title = mode === 'login' ? 'Log in to Wrenn' : mode === 'signup' ? 'Create your account' : 'Activate your account';
  return (
    <main className="auth">
      <form className="card auth-card" onSubmit={onSubmit} aria-describedby={submit.error ? 'auth-error' : undefined}>
        <div className="brand brand-large" aria-hidden="true">
          ◆ Wrenn
        </div>
        <h1>{title}</h1>
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
        <ErrorText error={submit.error} id="auth-error" />
        <button type="submit" className="primary" disabled={submit.busy}>
          {submit.busy ? 'Please wait…' : mode === 'login' ? 'Log in' : mode === 'signup' ? 'Sign up' : 'Activate'}
        </button>
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
        {mode === 'login' && <p className="muted small">Forgot your password? An administrator can reset it and give you an activation token.</p>}
      </form>
    </main>
  );
}
