/** Admin: every team, with its member count and the BYOC switch (a BYOC team may register hosts of its own). */
import { useState } from 'react';
import { api, messageOf } from '../api';
import { usePoll } from '../hooks';
import type { AdminTeam } from '../types';
import { ago, Empty, ErrorText, Table } from '../ui';

export function TeamsPage() {
  const teams = usePoll(() => api<{ teams: AdminTeam[] }>('GET', '/admin/teams?page=1'), [], 10_000);
  const [busy, setBusy] = useState<string>();
  const [rowError, setRowError] = useState<{ id: string; message: string }>();
  const setByoc = async (t: AdminTeam, enabled: boolean) => {
    setRowError(undefined);
    setBusy(t.id);
    try {
      await api('PUT', `/admin/teams/${encodeURIComponent(t.id)}/byoc`, { enabled });
      teams.reload();
    } catch (err) {
      setRowError({ id: t.id, message: messageOf(err) });
    } finally {
      setBusy(undefined);
    }
  };
  const rows = teams.data?.teams ?? [];
  return (
    <>
      <header className="page-head">
        <h1>Teams</h1>
      </header>
      <ErrorText error={teams.error} />
      {teams.data && rows.length === 0 ? (
        <Empty>No teams.</Empty>
      ) : (
        <Table
          caption="Teams"
          rows={rows}
          rowKey={(t) => t.id}
          columns={[
            {
              header: 'Team',
              cell: (t) => (
                <>
                  {t.name}
                  <div className="mono small muted">{t.id}</div>
                </>
              ),
            },
            { header: 'Members', cell: (t) => t.member_count },
            { header: 'Created', cell: (t) => ago(t.created_at), className: 'nowrap' },
            {
              header: 'BYOC',
              cell: (t) => (
                <>
                  <label className="check">
                    <input type="checkbox" checked={t.is_byoc} disabled={busy === t.id} onChange={(e) => void setByoc(t, e.target.checked)} aria-label={`BYOC for ${t.name}`} />
                    {t.is_byoc ? 'own hosts allowed' : 'off'}
                  </label>
                  {rowError?.id === t.id && <ErrorText error={rowError.message} />}
                </>
              ),
            },
          ]}
        />
      )}
    </>
  );
}
