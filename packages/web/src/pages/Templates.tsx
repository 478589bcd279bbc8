/** Templates: the base templates and the team's snapshot templates (which can be deleted). */
import { useState } from 'react';
import { api, messageOf, apiList } from '../api';
import { usePoll } from '../hooks';
import type { Template } from '../types';
import { ago, bytes, Empty, ErrorText, Table } from '../ui';

export function TemplatesPage() {
  const list = usePoll(() => apiList<Template>('/snapshots', 'snapshots'), []);
  const [rowError, setRowError] = useState<{ name: string; message: string }>();
  const [deleting, setDeleting] = useState<string>();
  const remove = async (t: Template) => {
    if (!confirm(`Delete the snapshot template ${t.name}?`)) return;
    setRowError(undefined);
    setDeleting(t.name);
    try {
      await api('DELETE', `/snapshots/${encodeURIComponent(t.name)}`);
      list.reload();
    } catch (err) {
      setRowError({ name: t.name, message: messageOf(err) });
    } finally {
      setDeleting(undefined);
    }
  };
  const rows = list.data ?? [];
  return (
    <>
      <header className="page-head">
        <h1>Templates</h1>
      </header>
      <p className="muted">
        Snapshot a running capsule from its page, or <a href="#/builds">build a template</a> from a recipe or a Dockerfile, to add one here.
      </p>
      <ErrorText error={list.error} />
      {list.data && rows.length === 0 ? (
        <Empty>No templates.</Empty>
      ) : (
        <Table
          caption="Templates"
          rows={rows}
          rowKey={(t) => t.name}
          columns={[
            { header: 'Name', cell: (t) => <span className="mono">{t.name}</span> },
            { header: 'Type', cell: (t) => t.type },
            { header: 'From', cell: (t) => <span className="mono small">{t.capsule_id ?? t.base_template ?? ''}</span> },
            { header: 'Size', className: 'nowrap', cell: (t) => `${bytes(t.size_bytes)}${t.memory_bytes ? ` + ${bytes(t.memory_bytes)} memory` : ''}` },
            { header: 'Created', cell: (t) => ago(t.created_at) },
            {
              header: 'Actions',
              srOnly: true,
              className: 'right',
              cell: (t) => (
                <>
                  {t.type === 'snapshot' && (
                    <button type="button" className="small danger" disabled={deleting === t.name} onClick={() => void remove(t)} aria-label={`Delete ${t.name}`}>
                      {deleting === t.name ? 'Deleting…' : 'Delete'}
                    </button>
                  )}
                  {rowError?.name === t.name && <ErrorText error={rowError.message} />}
                </>
              ),
            },
          ]}
        />
      )}
    </>
  );
}
