/**
 * Admin: the platform's capsules (`/admin/capsules`, owned by the platform team: where an
 * administrator prepares what becomes a platform template), with create, a snapshot into a
 * platform template, and destroy.
 */
import { useState } from 'react';
import { api, messageOf } from '../api';
import { usePoll } from '../hooks';
import type { Capsule } from '../types';
import { CreateCapsuleDialog } from '../pages/CreateCapsule';
import { ago, Empty, ErrorText, StatusBadge, Table } from '../ui';

export function AdminCapsulesPage() {
  const capsules = usePoll(() => api<Capsule[]>('GET', '/admin/capsules'), [], 3000);
  const [creating, setCreating] = useState(false);
  const [busy, setBusy] = useState<string>();
  const [rowNote, setRowNote] = useState<{ id: string; message: string; ok: boolean }>();
  const act = async (c: Capsule, what: 'snapshot' | 'destroy') => {
    if (what === 'destroy' && !confirm(`Destroy the platform capsule ${c.id}?`)) return;
    setRowNote(undefined);
    setBusy(c.id);
    try {
      if (what === 'snapshot') {
        const t = await api<{ name: string }>('POST', `/admin/capsules/${encodeURIComponent(c.id)}/snapshot`, {});
        setRowNote({ id: c.id, message: `Saved as the platform template ${t.name}.`, ok: true });
      } else await api('DELETE', `/admin/capsules/${encodeURIComponent(c.id)}`);
      capsules.reload();
    } catch (err) {
      setRowNote({ id: c.id, message: messageOf(err), ok: false });
    } finally {
      setBusy(undefined);
    }
  };
  const rows = (capsules.data ?? []).filter((c) => c.status !== 'stopped');
  return (
    <>
      <header className="page-head">
        <h1>Platform capsules</h1>
        <button type="button" className="primary" onClick={() => setCreating(true)}>
          New platform capsule
        </button>
      </header>
      <p className="muted">Capsules of the platform team: prepare one, then snapshot it into a template every team can use.</p>
      <ErrorText error={capsules.error} />
      {capsules.data && rows.length === 0 ? (
        <Empty>No platform capsules.</Empty>
      ) : (
        <Table
          caption="Platform capsules"
          rows={rows}
          rowKey={(c) => c.id}
          columns={[
            { header: 'Capsule', cell: (c) => <span className="mono">{c.id}</span> },
            { header: 'Status', cell: (c) => <StatusBadge status={c.status} /> },
            { header: 'Template', cell: (c) => c.template },
            { header: 'Size', cell: (c) => `${c.vcpus} vCPU · ${c.memory_mb} MB`, className: 'nowrap' },
            { header: 'Created', cell: (c) => ago(c.created_at), className: 'nowrap' },
            {
              header: 'Actions',
              srOnly: true,
              className: 'right',
              cell: (c) => (
                <>
                  <button type="button" className="small" disabled={busy === c.id || c.status !== 'running'} onClick={() => void act(c, 'snapshot')} aria-label={`Snapshot ${c.id}`}>
                    Snapshot
                  </button>
                  <button type="button" className="small danger" disabled={busy === c.id} onClick={() => void act(c, 'destroy')} aria-label={`Destroy ${c.id}`}>
                    Destroy
                  </button>
                  {rowNote?.id === c.id && (rowNote.ok ? <p role="status">{rowNote.message}</p> : <ErrorText error={rowNote.message} />)}
                </>
              ),
            },
          ]}
        />
      )}
      {creating && (
        <CreateCapsuleDialog
          base="/admin/capsules"
          onClose={() => setCreating(false)}
          onCreated={() => {
            setCreating(false);
            capsules.reload();
          }}
        />
      )}
    </>
  );
}
