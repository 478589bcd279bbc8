/** One capsule: its state, the lifecycle actions and the tabs (terminal, files, processes, metrics). */
import { useState } from 'react';
import { api } from '../api';
import { useAction, usePoll } from '../hooks';
import { href, navigate } from '../router';
import type { Capsule } from '../types';
import { ago, Dialog, ErrorText, StatusBadge } from '../ui';
import { TerminalTab } from './Terminal';
import { FilesTab } from './Files';
import { MetricsTab } from './Metrics';
import { ProcessesTab } from './Processes';

const TABS = [
  ['terminal', 'Terminal'],
  ['files', 'Files'],
  ['processes', 'Processes'],
  ['metrics', 'Metrics'],
] as const;

const MOVING = new Set(['pending', 'starting', 'pausing', 'resuming', 'stopping']);

export function CapsulePage({ id, tab }: { id: string; tab: string }) {
  const [pending, setPending] = useState<string>();
  const capsule = usePoll(() => api<Capsule>('GET', `/capsules/${encodeURIComponent(id)}`), [id], pending ? 1000 : 3000);
  const c = capsule.data;
  const act = useAction(async (what: 'pause' | 'resume' | 'destroy') => {
    setPending(what === 'pause' ? 'pausing' : what === 'resume' ? 'resuming' : 'stopping');
    try {
      if (what === 'destroy') await api('DELETE', `/capsules/${encodeURIComponent(id)}`);
      else await api('POST', `/capsules/${encodeURIComponent(id)}/${what}`);
    } finally {
      setPending(undefined);
      capsule.reload();
    }
  });
  const [snapshotting, setSnapshotting] = useState(false);
  const [confirmDestroy, setConfirmDestroy] = useState(false);
  if (!c) {
    return (
      <>
        <p>
          <a href={href('capsules')}>← Capsules</a>
        </p>
        {capsule.error ? <ErrorText error={capsule.error} /> : <p aria-busy="true">Loading…</p>}
      </>
    );
  }
  // While an action runs, its in-between state shows even before the server reports it.
  const status = pending && !MOVING.has(c.status) ? pending : c.status;
  const running = c.status === 'running' && !pending;
  const stopped = c.status === 'stopped';
  return (
    <>
      <p>
        <a href={href('capsules')}>← Capsules</a>
      </p>
      <header className="page-head">
        <div>
          <h1 className="mono">{c.id}</h1>
          <p className="muted">
            {c.template} · {c.vcpus} vCPU · {c.memory_mb} MB{c.disk_size_mb ? ` · ${c.disk_size_mb} MB disk` : ''} · auto-pause{' '}
            {c.timeout_sec ? `after ${c.timeout_sec} s idle` : 'off'} · last active {ago(c.last_activity_at)}
          </p>
        </div>
        <StatusBadge status={status} />
      </header>
      <div className="toolbar" aria-label="Capsule actions" role="group">
        <button type="button" disabled={!running || act.busy} onClick={() => void act.run('pause')}>
          {pending === 'pausing' ? 'Pausing…' : 'Pause'}
        </button>
        <button type="button" disabled={c.status !== 'paused' || act.busy} onClick={() => void act.run('resume')}>
          {pending === 'resuming' ? 'Resuming…' : 'Resume'}
        </button>
        <button type="button" disabled={!running || act.busy} onClick={() => setSnapshotting(true)}>
          Snapshot
        </button>
        <button type="button" className="danger" disabled={stopped || act.busy} onClick={() => setConfirmDestroy(true)}>
          {pending === 'stopping' ? 'Destroying…' : 'Destroy'}
        </button>
        {Object.entries(c.metadata).map(([k, v]) => (
          <span key={k} className="chip">
            {k}={v}
          </span>
        ))}
      </div>
      <ErrorText error={act.error ?? capsule.error} />
      {c.error && <p className="error">This capsule failed: {c.error}</p>}
      {c.status === 'running' ? (
        <>
          <nav className="tabs" aria-label="Capsule">
            {TABS.map(([key, label]) => (
              <a key={key} href={href('capsules', id, key)} aria-current={tab === key ? 'page' : undefined} className={tab === key ? 'active' : undefined}>
                {label}
              </a>
            ))}
          </nav>
          {tab === 'files' ? (
            <FilesTab capsuleId={id} />
          ) : tab === 'processes' ? (
            <ProcessesTab capsuleId={id} />
          ) : tab === 'metrics' ? (
            <MetricsTab capsuleId={id} />
          ) : (
            <TerminalTab capsuleId={id} />
          )}
        </>
      ) : (
        <p className="empty">
          {c.status === 'paused'
            ? 'The capsule is paused: its memory is saved and released. Resume it to use the terminal, files and processes.'
            : stopped
              ? 'This capsule was destroyed.'
              : `The capsule is ${c.status}.`}
        </p>
      )}
      {snapshotting && <SnapshotDialog capsuleId={id} onClose={() => setSnapshotting(false)} />}
      {confirmDestroy && (
        <Dialog title="Destroy capsule?" onClose={() => setConfirmDestroy(false)}>
          <p>
            <span className="mono">{c.id}</span> and everything in it will be deleted. This cannot be undone.
          </p>
          <div className="actions">
            <button type="button" onClick={() => setConfirmDestroy(false)}>
              Cancel
            </button>
            <button
              type="button"
              className="danger"
              onClick={() => {
                setConfirmDestroy(false);
                void act.run('destroy').then((ok) => ok && navigate('capsules'));
              }}
            >
              Destroy
            </button>
          </div>
        </Dialog>
      )}
    </>
  );
}

function SnapshotDialog({ capsuleId, onClose }: { capsuleId: string; onClose: () => void }) {
  const [name, setName] = useState('');
  const [done, setDone] = useState<string>();
  const snap = useAction(async () => {
    const t = await api<{ name: string }>('POST', '/snapshots', { capsule_id: capsuleId, ...(name ? { name } : {}) });
    setDone(t.name);
  });
  return (
    <Dialog title="Snapshot as a template" onClose={onClose}>
      {done ? (
        <>
          <p role="status">
            Saved as template <strong>{done}</strong>: new capsules can start from it.
          </p>
          <div className="actions">
            <button type="button" className="primary" onClick={onClose}>
              Done
            </button>
          </div>
        </>
      ) : (
        <form
          onSubmit={(e) => {
            e.preventDefault();
            void snap.run();
          }}
        >
          <label>
            Template name <span className="muted">(blank: generated)</span>
            <input value={name} maxLength={63} onChange={(e) => setName(e.target.value)} />
          </label>
          <p className="muted small">The capsule's memory and disk are saved; it keeps running.</p>
          <ErrorText error={snap.error} />
          <div className="actions">
            <button type="button" onClick={onClose}>
              Cancel
            </button>
            <button type="submit" className="primary" disabled={snap.busy}>
              {snap.busy ? 'Snapshotting…' : 'Snapshot'}
            </button>
          </div>
        </form>
      )}
    </Dialog>
  );
}
