/**
 * The pages the server's own links land on (under WRENN_APP_URL, by path, as Wrenn's
 * dashboard names them): the password-reset link from the mail, and the end of an OAuth
 * login. Each ends by replacing its URL with the dashboard's root, so the token in the
 * query does not stay in the address bar or the history.
 */
import { useEffect, useState, type FormEvent } from 'react';
import { api, ApiError, messageOf } from '../api';
import { useAction } from '../hooks';
import { session } from '../session';
import type { Session, Team, User } from '../types';
import { ErrorText } from '../ui';

/** Leaves the link's path for the dashboard's root at `hash`. */
export function leaveLink(hash = '#/'): void {
  history.replaceState(null, '', `/${hash}`);
  window.dispatchEvent(new HashChangeEvent('hashchange'));
}

const OAUTH_ERRORS: Record<string, string> = {
  access_denied: 'The provider did not let you in (you declined, or it refused).',
  invalid_state: 'The login took too long or was started in another browser: try again.',
  missing_code: 'The provider sent no authorization code: try again.',
  exchange_failed: 'The provider did not confirm the login: try again.',
  email_taken: 'An account with this email exists: log in with its password, then link the provider in your account.',
  email_unverified: 'The provider has not verified your email address.',
  account_inactive: 'This account is disabled: ask an administrator.',
  signup_disabled: 'New accounts are not open here: ask an administrator for an invitation.',
  internal_error: 'The server could not finish the login: try again, or ask an administrator.',
};

/** /auth/{provider}/callback?token=... (or ?error=...): becomes a session, or says what went wrong. */
export function OAuthCallbackPage({ onError }: { onError: (message: string) => void }) {
  useEffect(() => {
    const q = new URLSearchParams(location.search);
    const provider = location.pathname.split('/')[2] ?? 'the provider';
    const error = q.get('error');
    const token = q.get('token');
    if (error || !token) {
      onError(`Login with ${provider} failed: ${OAUTH_ERRORS[error ?? ''] ?? error ?? 'no session was given'}`);
      leaveLink();
      return;
    }
    void (async () => {
      try {
        const res = await fetch('/v1/me', { headers: { authorization: `Bearer ${token}` } });
        if (!res.ok) throw new ApiError(res.status, 'unknown', `the new session does not work (${res.status})`);
        const me = (await res.json()) as { user: User; team: Team };
        const s: Session = { token, user: me.user, team: me.team };
        session.set(s);
        leaveLink('#/capsules');
      } catch (err) {
        onError(`Login with ${provider} failed: ${messageOf(err)}`);
        leaveLink();
      }
    })();
  }, [onError]);
  return (
    <main className="auth">
      <p className="card auth-card">Logging you in…</p>
    </main>
  );
}

/** /reset-password?token=...: a new password for the account the mail went to. */
export function ResetPasswordPage() {
  const token = new URLSearchParams(location.search).get('token') ?? '';
  const [password, setPassword] = useState('');
  const [done, setDone] = useState(false);
  const confirm = useAction(async () => {
    await api('POST', '/me/password/reset/confirm', { token, new_password: password });
    setDone(true);
  });
  const onSubmit = (e: FormEvent) => {
    e.preventDefault();
    void confirm.run();
  };
  return (
    <main className="auth">
      <form className="card auth-card" onSubmit={onSubmit}>
        <div className="brand brand-large" aria-hidden="true">
          ◆ Wrenn
        </div>
        <h1>Choose a new password</h1>
        {done ? (
          <>
            <p role="status">Your password is changed, and every session of your account has ended.</p>
            <button type="button" className="primary" onClick={() => leaveLink()}>
              Log in
            </button>
          </>
        ) : (
          <>
            {!token && <ErrorText error="This link has no token: open the link from the mail again, or ask for a new one." />}
            <label>
              New password
              <input type="password" autoComplete="new-password" required minLength={8} value={password} onChange={(e) => setPassword(e.target.value)} />
            </label>
            <ErrorText error={confirm.error} />
            <button type="submit" className="primary" disabled={confirm.busy || !token}>
              {confirm.busy ? 'Please wait…' : 'Set password'}
            </button>
          </>
        )}
      </form>
    </main>
  );
}
