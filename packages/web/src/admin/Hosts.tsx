/**
 * Admin: hosts with status, capacity and tags; drain/undrain; a registration token for a
 * new host (or a fresh one for a host that has not registered yet); delete, after seeing
 * which capsules it would affect.
 */
import { useState } from 'react';
import { api, apiList, messageOf } from '../api';
import { useAction, usePoll } from '../hooks';
import type { Host } from '../types';
import { ago, bytes, Dialog, Empty, ErrorText, StatusBadge, Table } from '../ui';

function Tags({ host, onChange }: { host: Host; onChange: () => void }) {
  const [tag, setTag] = useState('');
  const base = `/hosts/${encodeURIComponent(host.id)}/tags`;
  const add = useAction(async () => {
    await api('POST', base, { tag: tag.trim() });
    setTag('');
    onChange();
  });
  const remove = useAction(async (t: string) => {
    await api('DELETE', `${base}/${encodeURIComponent(t)}`);
    onChange();
  });
  return (
    <div>
      {(host.tags ?? []).map((t) => (
        <span key={t} className="chip">
          {t}
          <button type="button" className="ghost small" aria-label={`Remove tag ${t} from ${host.name}`} disabled={remove.busy} onClick={() => void remove.run(t)}>
            ×
          </button>
        </span>
      ))}
      <form
        className="row"
        onSubmit={(e) => {
          e.preventDefault();
          if (tag.trim()) void add.run();
        }}
      >
        <input aria-label={`New tag for ${host.name}`} placeholder="tag" maxLength={63} size={8} value={tag} onChange={(e) => setTag(e.target.value)} />
        <button type="submit" className="small" disabled={add.busy || !tag.trim()}>
          Add
        </button>
      </form>
      <ErrorText error={add.error ?? remove.error} />
    </div>
  );
}

function DeleteHostDialog({ host, onClose, onDeleted }: { host: Host; onClose: () => void; onDeleted: () => void }) {
  const preview = usePoll(() => api<{ sandbox_ids: string[] }>('GET', `/hosts/${encodeURIComponent(host.id)}/delete-preview`), [host.id]);
  const affected = preview.data?.sandbox_ids ?? [];
  const remove = useAction(async () => {
    await api('DELETE', `/hosts/${encodeURIComponent(host.id)}${affected.length ? '?force=true' : ''}`);
    onDeleted();
  });
  return (
    <Dialog title={`Delete ${host.name}?`} onClose={onClose}>
      {!preview.data ? (
        <p className="muted">Looking at what runs there…</p>
      ) : affected.length === 0 ? (
        <p>No capsule runs on this host.</p>
      ) : (
        <>
          <p>
            {affected.length} capsule{affected.length === 1 ? '' : 's'} on this host will be marked as failed:
          </p>
          <ul className="mono small">
            {affected.map((id) => (
              <li key={id}>{id}</li>
            ))}
          </ul>
        </>
      )}
      <ErrorText error={preview.error ?? remove.error} />
      <div className="actions">
        <button type="button" onClick={onClose}>
          Cancel
        </button>
        <button type="button" className="danger" disabled={!preview.data || remove.busy} onClick={() => void remove.run()}>
          {remove.busy ? 'Deleting…' : 'Delete host'}
        </button>
      </div>
    </Dialog>
  );
}

export function HostsPage() {
  const hosts = usePoll(() => apiList<Host>('/hosts', 'hosts'), [], 5000);
  const [name, setName] = useState('');
  const [token, setToken] = useState<{ name: string; token: string }>();
  const [deleting, setDeleting] = useState<Host>();
  const create = useAction(async () => {
    const r = await api<{ host: Host; registration_token: string }>('POST', '/hosts', { name });
    setToken({ name: r.host.name, token: r.registration_token });
    setName('');
    hosts.reload();
  });
  const [busy, setBusy] = useState<string>();
  const [rowError, setRowError] = useState<{ id: string; message: string }>();
  const onRow = async (h: Host, what: () => Promise<void>) => {
    setRowError(undefined);
    setBusy(h.id);
    try {
      await what();
      hosts.reload();
    } catch (err) {
      setRowError({ id: h.id, message: messageOf(err) });
    } finally {
      setBusy(undefined);
    }
  };
  const toggle = (h: Host) => onRow(h, () => api('POST', `/hosts/${encodeURIComponent(h.id)}/${h.status === 'draining' ? 'undrain' : 'drain'}`));
  const newToken = (h: Host) =>
    onRow(h, async () => {
      const r = await api<{ registration_token: string }>('POST', `/hosts/${encodeURIComponent(h.id)}/token`);
      setToken({ name: h.name, token: r.registration_token });
    });
  const rows = hosts.data ?? [];
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
        <Table
          caption="Hosts"
          rows={rows}
          rowKey={(h) => h.id}
          columns={[
            {
              header: 'Host',
              cell: (h) => (
                <>
                  {h.name}
                  {h.type === 'byoc' && <span className="chip">BYOC</span>}
                  <div className="mono small muted">{h.id}</div>
                </>
              ),
            },
            { header: 'Status', cell: (h) => <StatusBadge status={h.status} /> },
            { header: 'Capsules', cell: (h) => h.capsules },
            { header: 'vCPUs', cell: (h) => h.vcpus_total },
            { header: 'Memory free', cell: (h) => `${bytes(h.memory_free_bytes)} / ${bytes(h.memory_total_bytes)}`, className: 'nowrap' },
            { header: 'Disk free', cell: (h) => bytes(h.disk_free_bytes), className: 'nowrap' },
            { header: 'Tags', cell: (h) => <Tags host={h} onChange={hosts.reload} /> },
            { header: 'Heartbeat', cell: (h) => ago(h.last_heartbeat_at), className: 'nowrap' },
            {
              header: 'Actions',
              srOnly: true,
              className: 'right',
              cell: (h) => (
                <>
                  {(h.status === 'online' || h.status === 'up' || h.status === 'draining') && (
                    <button type="button" className="small" disabled={busy === h.id} onClick={() => void toggle(h)} aria-label={`${h.status === 'draining' ? 'Undrain' : 'Drain'} ${h.name}`}>
                      {busy === h.id ? 'Working…' : h.status === 'draining' ? 'Undrain' : 'Drain'}
                    </button>
                  )}
                  {h.status === 'pending' && (
                    <button type="button" className="small" disabled={busy === h.id} onClick={() => void newToken(h)} aria-label={`New registration token for ${h.name}`}>
                      New token
                    </button>
                  )}
                  <button type="button" className="small danger" onClick={() => setDeleting(h)} aria-label={`Delete ${h.name}`}>
                    Delete
                  </button>
                  {rowError?.id === h.id && <ErrorText error={rowError.message} />}
                </>
              ),
            },
          ]}
        />
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
      {deleting && (
        <DeleteHostDialog
          host={deleting}
          onClose={() => setDeleting(undefined)}
          onDeleted={() => {
            setDeleting(undefined);
            hosts.reload();
          }}
        />
      )}
    </>
  );
}
