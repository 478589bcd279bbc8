/** The Processes tab: what runs in the capsule, kill, and attach to a process's output. */
import { useEffect, useRef, useState } from 'react';
import { api, messageOf, wsAuthMessage, wsUrl } from '../api';
import { usePoll } from '../hooks';
import type { ProcessInfo } from '../types';
import { Empty, ErrorText, Table } from '../ui';

export function ProcessesTab({ capsuleId }: { capsuleId: string }) {
  const list = usePoll(() => api<{ processes: ProcessInfo[] }>('GET', `/capsules/${encodeURIComponent(capsuleId)}/processes`), [capsuleId], 3000);
  const [rowError, setRowError] = useState<{ pid: number; message: string }>();
  const [attached, setAttached] = useState<string>();
  const kill = async (p: ProcessInfo, signal: 'SIGTERM' | 'SIGKILL') => {
    setRowError(undefined);
    try {
      await api('DELETE', `/capsules/${encodeURIComponent(capsuleId)}/processes/${p.pid}?signal=${signal}`);
      list.reload();
    } catch (err) {
      setRowError({ pid: p.pid, message: messageOf(err) });
    }
  };
  const procs = list.data?.processes ?? [];
  return (
    <section aria-label="Processes">
      <ErrorText error={list.error} />
      {list.data && procs.length === 0 ? (
        <Empty>No processes started through the API are running.</Empty>
      ) : (
        <Table
          caption="Processes"
          rows={procs}
          rowKey={(p) => String(p.pid)}
          columns={[
            { header: 'PID', cell: (p) => <span className="mono">{p.pid}</span> },
            { header: 'Tag', cell: (p) => <span className="mono">{p.tag ?? ''}</span> },
            { header: 'Command', cell: (p) => <span className="mono">{[p.cmd, ...p.args].join(' ')}</span> },
            {
              header: 'Actions',
              srOnly: true,
              className: 'nowrap right',
              cell: (p) => (
                <>
                  <button type="button" className="small" onClick={() => setAttached(String(p.pid))} aria-label={`Attach to ${p.tag ?? p.pid}`}>
                    Attach
                  </button>{' '}
                  <button type="button" className="small" onClick={() => void kill(p, 'SIGTERM')} aria-label={`Stop ${p.tag ?? p.pid}`}>
                    Stop
                  </button>{' '}
                  <button type="button" className="small danger" onClick={() => void kill(p, 'SIGKILL')} aria-label={`Kill ${p.tag ?? p.pid}`}>
                    Kill
                  </button>
                  {rowError?.pid === p.pid && <ErrorText error={rowError.message} />}
                </>
              ),
            },
          ]}
        />
      )}
      {attached && <Output key={attached} capsuleId={capsuleId} selector={attached} onClose={() => setAttached(undefined)} />}
    </section>
  );
}

function Output({ capsuleId, selector, onClose }: { capsuleId: string; selector: string; onClose: () => void }) {
  const [text, setText] = useState('');
  const [state, setState] = useState('Attaching…');
  const pre = useRef<HTMLPreElement>(null);
  useEffect(() => {
    const ws = new WebSocket(wsUrl(`/capsules/${encodeURIComponent(capsuleId)}/processes/${encodeURIComponent(selector)}/stream`));
    ws.onopen = () => ws.send(wsAuthMessage());
    ws.onmessage = (ev) => {
      const m = JSON.parse(String(ev.data)) as { type: string; data?: string; encoding?: string; exit_code?: number; message?: string; pid?: number };
      if (m.type === 'start') setState(`Attached to ${m.pid}`);
      else if ((m.type === 'stdout' || m.type === 'stderr') && m.data !== undefined) {
        const chunk = m.encoding === 'base64' ? new TextDecoder().decode(Uint8Array.from(atob(m.data), (c) => c.charCodeAt(0))) : m.data;
        setText((t) => (t + chunk).slice(-200_000));
      } else if (m.type === 'exit') setState(`Exited with code ${m.exit_code}`);
      else if (m.type === 'error') setState(m.message ?? 'error');
    };
    ws.onclose = () => setState((s) => (s.startsWith('Attached') ? 'Disconnected' : s));
    return () => ws.close();
  }, [capsuleId, selector]);
  useEffect(() => {
    if (pre.current) pre.current.scrollTop = pre.current.scrollHeight;
  }, [text]);
  return (
    <div className="card">
      <div className="row">
        <strong>Output of {selector}</strong>
        <span role="status" className="muted">
          {state}
        </span>
        <button type="button" className="small" onClick={onClose}>
          Detach
        </button>
      </div>
      <pre ref={pre} className="preview-text output" aria-live="off" aria-label={`Output of ${selector}`}>
        {text}
      </pre>
    </div>
  );
}
