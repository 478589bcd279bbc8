/**
 * Your account: how you sign in (password, linked login providers), linking a provider
 * (the provider's page, then back here) and unlinking one (refused when it is your only way in).
 */
import { api, apiList } from '../api';
import { useAction, usePoll } from '../hooks';
import { ErrorText } from '../ui';

interface Me {
  name: string;
  email: string;
  has_password: boolean;
  providers: string[];
}

/** The result of a link the server redirected back with (?connected= / ?connect_error=), once. */
function linkResult(): { ok?: string; error?: string } {
  const q = new URLSearchParams(location.search);
  return { ok: q.get('connected') ?? undefined, error: q.get('connect_error') ?? undefined };
}

export function AccountPage() {
  const me = usePoll(() => api<Me>('GET', '/me'), []);
  const offered = usePoll(() => apiList<{ name: string }>('/auth/providers', 'providers'), []);
  const result = linkResult();
  const connect = useAction(async (provider: string) => {
    const { auth_url } = await api<{ auth_url: string }>('GET', `/me/providers/${encodeURIComponent(provider)}/connect`);
    location.assign(auth_url);
  });
  const disconnect = useAction(async (provider: string) => {
    await api('DELETE', `/me/providers/${encodeURIComponent(provider)}`);
    me.reload();
  });
  const linked = new Set(me.data?.providers ?? []);
  return (
    <>
      <header className="page-head">
        <h1>Account</h1>
      </header>
      {result.ok && <p role="status">{result.ok} is linked: you can log in with it.</p>}
      {result.error && <ErrorText error={`Linking failed: ${result.error.replace(/_/g, ' ')}`} />}
      <ErrorText error={me.error ?? offered.error} />
      {me.data && (
        <section className="card" aria-label="Sign-in methods">
          <p>
            {me.data.name || me.data.email} · <span className="mono">{me.data.email}</span>
          </p>
          <p className="muted">{me.data.has_password ? 'You can log in with your password.' : 'No password is set: you log in through a provider.'}</p>
          <ul className="plain">
            {(offered.data ?? []).map(({ name }) => (
              <li key={name} className="row">
                <span className="grow">
                  {name} {linked.has(name) ? <span className="chip">linked</span> : null}
                </span>
                {linked.has(name) ? (
                  <button type="button" className="small" disabled={disconnect.busy} onClick={() => void disconnect.run(name)}>
                    Unlink {name}
                  </button>
                ) : (
                  <button type="button" className="small" disabled={connect.busy} onClick={() => void connect.run(name)}>
                    Link {name}
                  </button>
                )}
              </li>
            ))}
          </ul>
          {offered.data?.length === 0 && <p className="muted small">This server offers no login providers.</p>}
          <ErrorText error={connect.error ?? disconnect.error} />
        </section>
      )}
    </>
  );
}
