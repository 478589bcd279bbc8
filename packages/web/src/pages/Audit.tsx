/** The team's audit log, newest first, with filters and paging. */
import { useState } from 'react';
import { api } from '../api';
import { useAction, usePoll } from '../hooks';
import type { AuditEntry } from '../types';
import { ErrorText } from '../ui';

type Page = { audit_logs: AuditEntry[]; next_before: string | null };

export function AuditPage() {
  const first = usePoll(() => api<Page>('GET', '/audit-logs?limit=100'), []);
  const [more, setMore] = useState<AuditEntry[]>([]);
  const [next, setNext] = useState<string | null | undefined>();
  const cursor = next === undefined ? first.data?.next_before : next;
  const loadMore = useAction(async () => {
    const p = await api<Page>('GET', `/audit-logs?limit=100&before=${encodeURIComponent(cursor!)}`);
    setMore((m) => [...m, ...p.audit_logs]);
    setNext(p.next_before);
  });
  const [action, setAction] = useState('');
  const [result, setResult] = useState('');
  const [actor, setActor] = useState('');
  // The API pages through the log; filtering is over what is loaded.
  const rows = [...(first.data?.audit_logs ?? []), ...more].filter(
    (e) =>
      (!action || e.action.toLowerCase().includes(action.toLowerCase())) &&
      (!result || e.result === result) &&
      (!actor || `${e.actor_user_id ?? ''} ${e.actor_key_id ?? ''}`.includes(actor)),
  );
  return (
    <>
      <header className="page-head">
        <h1>Audit log</h1>
      </header>
      <div className="toolbar" role="search">
        <label className="grow">
          Action
          <input type="search" placeholder="e.g. POST /capsules" value={action} onChange={(e) => setAction(e.target.value)} />
        </label>
        <label>
          Result
          <select value={result} onChange={(e) => setResult(e.target.value)}>
            <option value="">any</option>
            <option value="ok">ok</option>
            <option value="error">error</option>
          </select>
        </label>
        <label>
          Actor id
          <input type="search" value={actor} onChange={(e) => setActor(e.target.value)} />
        </label>
      </div>
      <ErrorText error={first.error} />
      <table className="table">
        <caption className="sr-only">Audit log</caption>
        <thead>
          <tr>
            <th scope="col">When</th>
            <th scope="col">Action</th>
            <th scope="col">Target</th>
            <th scope="col">Actor</th>
            <th scope="col">Result</th>
          </tr>
        </thead>
        <tbody>
          {rows.map((e) => (
            <tr key={e.id}>
              <td className="nowrap">{new Date(e.created_at).toLocaleString()}</td>
              <td className="mono">{e.action}</td>
              <td className="mono">{e.target_id ?? ''}</td>
              <td className="mono small">{e.actor_user_id ?? e.actor_key_id ?? ''}</td>
              <td>
                <span className={`badge badge-${e.result === 'ok' ? 'running' : 'error'}`}>
                  {e.result} {e.status_code}
                </span>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {cursor && (
        <button type="button" disabled={loadMore.busy} onClick={() => void loadMore.run()}>
          {loadMore.busy ? 'Loading…' : 'Older entries'}
        </button>
      )}
      <ErrorText error={loadMore.error} />
    </>
  );
}
