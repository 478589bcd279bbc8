/** API keys of the current team: create (the key is shown once) and revoke. */
import { useState } from 'react';
import { api, apiList } from '../api';
import { useAction, usePoll } from '../hooks';
import type { ApiKey } from '../types';
import { ago, Dialog, Empty, ErrorText } from '../ui';

export function ApiKeysPage() {
  const keys = usePoll(() => apiList<ApiKey>('/api-keys', 'api_keys'), []);
  const [name, setName] = useState('');
  const [created, setCreated] = useState<{ name: string; key: string }>();
  const create = useAction(async () => {
    const k = await api<{ name: string; key: string }>('POST', '/api-keys', { name });
    setCreated(k);
    setName('');
    keys.reload();
  });
  const [revoking, setRevoking] = useState<string>();
  const revoke = useAction(async (id: string) => {
    setRevoking(id);
    try {
      await api('DELETE', `/api-keys/${encodeURIComponent(id)}`);
      keys.reload();
    } finally {
      setRevoking(undefined);
    }
  });
  const list = keys.data ?? [];
  return (
    <>
      <header className="page-head">
        <h1>API keys</h1>
      </header>
      <form
        className="toolbar"
        onSubmit={(e) => {
          e.preventDefault();
          void create.run();
        }}
      >
        <label className="grow">
          Key name
          <input required maxLength={200} value={name} onChange={(e) => setName(e.target.value)} placeholder="e.g. ci" />
        </label>
        <button type="submit" className="primary" disabled={create.busy}>
          {create.busy ? 'Creating…' : 'Create key'}
        </button>
      </form>
      <ErrorText error={create.error ?? keys.error} />
      {keys.data && list.length === 0 ? (
        <Empty>No API keys yet.</Empty>
      ) : (
        <table className="table">
          <caption className="sr-only">API keys</caption>
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Key</th>
              <th scope="col">Created</th>
              <th scope="col">Last used</th>
              <th scope="col">
                <span className="sr-only">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {list.map((k) => (
              <tr key={k.id}>
                <td>
                  {k.name}
                  {k.status === 'suspended' && (
                    <span className="badge badge-paused" title="Its creator is disabled: calls with it are refused until they are re-enabled">
                      suspended
                    </span>
                  )}
                </td>
                <td className="mono">{k.key_prefix}…</td>
                <td>{ago(k.created_at)}</td>
                <td>{ago(k.last_used_at)}</td>
                <td className="right">
                  <button type="button" className="small danger" disabled={revoking === k.id} onClick={() => void revoke.run(k.id)} aria-label={`Revoke ${k.name}`}>
                    {revoking === k.id ? 'Revoking…' : 'Revoke'}
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <ErrorText error={revoke.error} />
      {created && (
        <Dialog title={`Key “${created.name}” created`} onClose={() => setCreated(undefined)}>
          <p>Copy it now: it is shown only this once.</p>
          <label>
            API key
            <input readOnly className="mono" value={created.key} onFocus={(e) => e.target.select()} data-testid="new-key" />
          </label>
          <div className="actions">
            <button type="button" onClick={() => void navigator.clipboard?.writeText(created.key)}>
              Copy
            </button>
            <button type="button" className="primary" onClick={() => setCreated(undefined)}>
              Done
            </button>
          </div>
        </Dialog>
      )}
    </>
  );
}
