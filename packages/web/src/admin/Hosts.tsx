/** Admin: hosts with status and capacity, drain/undrain, and a registration token for a new one. */
import { useState } from 'react';
import { api, messageOf, apiList } from '../api';
import { useAction, usePoll } from '../hooks';
import type { Host } from '../types';
import { ago, bytes, Dialog, Empty, ErrorText, StatusBadge } from '../ui';

export function HostsPage() {
  const hosts = usePoll(() => apiList<Host>('/hosts', 'hosts').then((hosts) => ({ hosts })), [], 5000);
  const [name, setName] = useState('');
  const [token, setToken] = useState<{ name: string; token: string }>();
  const create = useAction(async () => {
    const r = await api<{ host: Host; registration_token: string }>('POST', '/hosts', { name });
    setToken({ name: r.host.name, token: r.registration_token });
    setName('');
    hosts.reload();
  });
  const [busy, setBusy] = useState<string>();
  const [rowError, setRowError] = useState<{ id: string; message: string }>();
  const toggle = async (h: Host) => {
    setRowError(undefined);
    setBusy(h.id);
    try {
      await api('POST', `/hosts/${encodeURIComponent(h.id)}/${h.status === 'draining' ? 'undrain' : 'drain'}`);
      hosts.reload();
    } catch (err) {
      setRowError({ id: h.id, message: messageOf(err) });
    } finally {
      setBusy(undefined);
    }
  };
  const rows = hosts.data?.hosts ?? [];
  return (
    <>
      <header className="page-head">
        <h1>Hosts</h1>
      </header>
      <form
        className="toolbar"
        onSubmit={(e) => {
          e.preventDefault();
          void create.run();
        }}
      >
        <label className="grow">
          New host name
          <input required maxLength={128} value={name} onChange={(e) => setName(e.target.value)} />
        </label>
        <button type="submit" disabled={create.busy}>
          Get a registration token
        </button>
      </form>
      <ErrorText error={create.error ?? hosts.error} />
      {hosts.data && rows.length === 0 ? (
        <Empty>No hosts.</Empty>
      ) : (
        <table className="table">
          <caption className="sr-only">Hosts</caption>
          <thead>
            <tr>
              <th scope="col">Host</th>
              <th scope="col">Status</th>
              <th scope="col">Capsules</th>
              <th scope="col">vCPUs</th>
              <th scope="col">Memory free</th>
              <th scope="col">Disk free</th>
              <th scope="col">Heartbeat</th>
              <th scope="col">
                <span className="sr-only">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {rows.map((h) => (
              <tr key={h.id}>
                <td>
                  {h.name}
                  <div className="mono small muted">{h.id}</div>
                </td>
                <td>
                  <StatusBadge status={h.status} />
                </td>
                <td>{h.capsules}</td>
                <td>{h.vcpus_total}</td>
                <td className="nowrap">
                  {bytes(h.memory_free_bytes)} / {bytes(h.memory_total_bytes)}
                </td>
                <td className="nowrap">{bytes(h.disk_free_bytes)}</td>
                <td className="nowrap">{ago(h.last_heartbeat_at)}</td>
                <td className="right">
                  {(h.status === 'online' || h.status === 'up' || h.status === 'draining') && (
                    <button type="button" className="small" disabled={busy === h.id} onClick={() => void toggle(h)} aria-label={`${h.status === 'draining' ? 'Undrain' : 'Drain'} ${h.name}`}>
                      {busy === h.id ? 'Working…' : h.status === 'draining' ? 'Undrain' : 'Drain'}
                    </button>
                  )}
                  {rowError?.id === h.id && <ErrorText error={rowError.message} />}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {token && (
        <Dialog title={`Register ${token.name}`} onClose={() => setToken(undefined)}>
          <p>On the new machine, run (the token works once, for 24 h):</p>
          <pre className="preview-text">{`wrenn-agent --register ${token.token} --control-plane ${location.origin}`}</pre>
          <div className="actions">
            <button type="button" className="primary" onClick={() => setToken(undefined)}>
              Done
            </button>
          </div>
        </Dialog>
      )}
    </>
  );
}
