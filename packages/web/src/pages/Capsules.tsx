/** The team's capsules, polled for live status, with filters and the create dialog. */
import { useState } from 'react';
import { api } from '../api';
import { usePoll } from '../hooks';
import { href, navigate } from '../router';
import type { Capsule } from '../types';
import { ago, Empty, ErrorText, StatusBadge } from '../ui';
import { CreateCapsuleDialog } from './CreateCapsule';

const FILTERS: Array<{ label: string; value: string }> = [
  { label: 'Active', value: 'pending,starting,running,pausing,paused,resuming,stopping,error,missing' },
  { label: 'Running', value: 'running' },
  { label: 'Paused', value: 'paused' },
  { label: 'Error', value: 'error,missing' },
  { label: 'Stopped', value: 'stopped' },
  { label: 'All', value: '' },
];

export function CapsulesPage() {
  const [status, setStatus] = useState(FILTERS[0]!.value);
  const [text, setText] = useState('');
  const [creating, setCreating] = useState(false);
  const list = usePoll(() => api<Capsule[]>('GET', `/capsules${status ? `?status=${status}` : ''}`), [status], 3000);
  const needle = text.trim().toLowerCase();
  const shown = (list.data ?? []).filter(
    (c) =>
      !needle ||
      c.id.toLowerCase().includes(needle) ||
      c.template.toLowerCase().includes(needle) ||
      Object.entries(c.metadata).some(([k, v]) => `${k}=${v}`.toLowerCase().includes(needle)),
  );
  return (
    <>
      <header className="page-head">
        <h1>Capsules</h1>
        <button type="button" className="primary" onClick={() => setCreating(true)}>
          New capsule
        </button>
      </header>
      <div className="toolbar" role="search">
        <label>
          Status
          <select value={status} onChange={(e) => setStatus(e.target.value)}>
            {FILTERS.map((f) => (
              <option key={f.label} value={f.value}>
                {f.label}
              </option>
            ))}
          </select>
        </label>
        <label className="grow">
          Filter
          <input type="search" placeholder="id, template or key=value" value={text} onChange={(e) => setText(e.target.value)} />
        </label>
      </div>
      <ErrorText error={list.error} />
      {list.data && shown.length === 0 ? (
        <Empty>No capsules here yet. Create one with “New capsule”.</Empty>
      ) : (
        <table className="table">
          <caption className="sr-only">Capsules</caption>
          <thead>
            <tr>
              <th scope="col">Capsule</th>
              <th scope="col">Status</th>
              <th scope="col">Template</th>
              <th scope="col">Size</th>
              <th scope="col" className="meta">Metadata</th>
              <th scope="col">Last active</th>
            </tr>
          </thead>
          <tbody>
            {shown.map((c) => (
              <tr key={c.id} className="clickable" onClick={() => navigate('capsules', c.id)}>
                <td>
                  <a href={href('capsules', c.id)} className="mono">
                    {c.id}
                  </a>
                </td>
                <td>
                  <StatusBadge status={c.status} />
                </td>
                <td>{c.template}</td>
                <td className="nowrap">
                  {c.vcpus} vCPU · {c.memory_mb} MB
                </td>
                <td className="meta">
                  {Object.entries(c.metadata).map(([k, v]) => (
                    <span key={k} className="chip">
                      {k}={v}
                    </span>
                  ))}
                </td>
                <td className="nowrap">{ago(c.last_activity_at)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {creating && (
        <CreateCapsuleDialog
          onClose={() => setCreating(false)}
          onCreated={(c) => {
            setCreating(false);
            navigate('capsules', c.id);
          }}
        />
      )}
    </>
  );
}
