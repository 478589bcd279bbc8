/** The create dialog: template, size, auto-pause, auto-resume and metadata. */
import { useState, type FormEvent } from 'react';
import { api, apiList } from '../api';
import { useAction, usePoll } from '../hooks';
import type { Capsule, Template } from '../types';
import { Dialog, ErrorText } from '../ui';

/** `base`: where capsules are created (`/capsules` for the team, `/admin/capsules` for the platform's). */
export function CreateCapsuleDialog({ onClose, onCreated, base = '/capsules' }: { onClose: () => void; onCreated: (c: Capsule) => void; base?: string }) {
  const templates = usePoll(() => apiList<Template>('/snapshots', 'snapshots'), []);
  const [template, setTemplate] = useState('minimal');
  const [vcpus, setVcpus] = useState('1');
  const [memory, setMemory] = useState('512');
  const [disk, setDisk] = useState('');
  const [timeout, setTimeoutSec] = useState('0');
  const [autoResume, setAutoResume] = useState(false);
  const [meta, setMeta] = useState<Array<{ k: string; v: string }>>([]);
  const [problem, setProblem] = useState<string>();
  const create = useAction(async () => {
    const metadata = Object.fromEntries(meta.filter((m) => m.k.trim()).map((m) => [m.k.trim(), m.v]));
    const c = await api<Capsule>('POST', base, {
      template,
      vcpus: Number(vcpus),
      memory_mb: Number(memory),
      timeout_sec: Number(timeout),
      auto_resume: autoResume,
      ...(disk ? { disk_size_mb: Number(disk) } : {}),
      ...(Object.keys(metadata).length ? { metadata } : {}),
    });
    onCreated(c);
  });
  const onSubmit = (e: FormEvent) => {
    e.preventDefault();
    // The server validates too; these are the mistakes worth catching before the round trip.
    if (!(Number(vcpus) > 0)) return setProblem('vCPUs must be more than 0.');
    if (!Number.isInteger(Number(memory)) || Number(memory) < 128) return setProblem('Memory must be a whole number of MB, at least 128.');
    setProblem(undefined);
    void create.run();
  };
  const names = (templates.data ?? []).map((t) => t.name);
  if (!names.includes('minimal')) names.unshift('minimal');
  return (
    <Dialog title="New capsule" onClose={onClose}>
      <form onSubmit={onSubmit} className="form-grid">
        <label>
          Template
          <select value={template} onChange={(e) => setTemplate(e.target.value)}>
            {names.map((n) => (
              <option key={n}>{n}</option>
            ))}
          </select>
        </label>
        <label>
          vCPUs
          <input type="number" min="0.1" max="16" step="0.1" required value={vcpus} onChange={(e) => setVcpus(e.target.value)} />
        </label>
        <label>
          Memory (MB)
          <input type="number" min="128" max="65536" step="1" required value={memory} onChange={(e) => setMemory(e.target.value)} />
        </label>
        <label>
          Disk (MB) <span className="muted">(blank: the host's default)</span>
          <input type="number" min="1" step="1" value={disk} onChange={(e) => setDisk(e.target.value)} />
        </label>
        <label>
          Auto-pause after (seconds idle, 0 = never)
          <input type="number" min="0" step="1" required value={timeout} onChange={(e) => setTimeoutSec(e.target.value)} />
        </label>
        <label className="check">
          <input type="checkbox" checked={autoResume} onChange={(e) => setAutoResume(e.target.checked)} />
          Resume automatically when used while paused
        </label>
        <fieldset className="span2">
          <legend>Metadata</legend>
          {meta.map((m, i) => (
            <div className="row" key={i}>
              <input aria-label={`Metadata key ${i + 1}`} placeholder="key" value={m.k} onChange={(e) => setMeta(meta.map((x, j) => (j === i ? { ...x, k: e.target.value } : x)))} />
              <input aria-label={`Metadata value ${i + 1}`} placeholder="value" value={m.v} onChange={(e) => setMeta(meta.map((x, j) => (j === i ? { ...x, v: e.target.value } : x)))} />
              <button type="button" className="ghost" aria-label={`Remove metadata ${i + 1}`} onClick={() => setMeta(meta.filter((_, j) => j !== i))}>
                Remove
              </button>
            </div>
          ))}
          <button type="button" onClick={() => setMeta([...meta, { k: '', v: '' }])}>
            Add label
          </button>
        </fieldset>
        <div className="span2">
          <ErrorText error={problem ?? create.error ?? templates.error} />
          <div className="actions">
            <button type="button" onClick={onClose}>
              Cancel
            </button>
            <button type="submit" className="primary" disabled={create.busy}>
              {create.busy ? 'Creating…' : 'Create'}
            </button>
          </div>
        </div>
      </form>
    </Dialog>
  );
}
