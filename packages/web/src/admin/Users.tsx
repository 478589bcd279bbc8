/** Admin: every user, enable/disable, invite (a one-time activation token). */
import { useState } from 'react';
import { api, messageOf, apiList } from '../api';
import { useAction, usePoll } from '../hooks';
import type { User } from '../types';
import { ago, Dialog, ErrorText, Table } from '../ui';

export function UsersPage({ me }: { me: string }) {
  const users = usePoll(() => apiList<User>('/admin/users?limit=1000', 'users'), []);
  const [rowError, setRowError] = useState<{ id: string; message: string }>();
  const patch = async (u: User, body: { active?: boolean; is_admin?: boolean }) => {
    setRowError(undefined);
    try {
      await api('PATCH', `/admin/users/${encodeURIComponent(u.id)}`, body);
      users.reload();
    } catch (err) {
      setRowError({ id: u.id, message: messageOf(err) });
    }
  };
  const [email, setEmail] = useState('');
  const [invite, setInvite] = useState<{ email: string; token: string }>();
  const create = useAction(async () => {
    const r = await api<{ user: User; activation_token: string }>('POST', '/admin/users', { email });
    setInvite({ email: r.user.email, token: r.activation_token });
    setEmail('');
    users.reload();
  });
  return (
    <>
      <header className="page-head">
        <h1>Users</h1>
      </header>
      <form
        className="toolbar"
        onSubmit={(e) => {
          e.preventDefault();
          void create.run();
        }}
      >
        <label className="grow">
          Invite by email
          <input type="email" required value={email} onChange={(e) => setEmail(e.target.value)} />
        </label>
        <button type="submit" disabled={create.busy}>
          Invite
        </button>
      </form>
      <ErrorText error={create.error ?? users.error} />
      <Table
        caption="Users"
        rows={users.data ?? []}
        rowKey={(u) => u.id}
        columns={[
          {
            header: 'Name',
            cell: (u) => (
              <>
                {u.name}
                {u.is_admin && <span className="chip">admin</span>}
              </>
            ),
          },
          { header: 'Email', cell: (u) => u.email },
          { header: 'State', cell: (u) => <span className={`badge badge-${u.active ? 'running' : 'stopped'}`}>{u.active ? 'enabled' : 'disabled'}</span> },
          { header: 'Created', cell: (u) => ago(u.created_at) },
          {
            header: 'Actions',
            srOnly: true,
            className: 'right nowrap',
            cell: (u) => (
              <>
                {u.id !== me && (
                  <button type="button" className={`small${u.active ? ' danger' : ''}`} onClick={() => void patch(u, { active: !u.active })} aria-label={`${u.active ? 'Disable' : 'Enable'} ${u.email}`}>
                    {u.active ? 'Disable' : 'Enable'}
                  </button>
                )}
                {rowError?.id === u.id && <ErrorText error={rowError.message} />}
              </>
            ),
          },
        ]}
      />
      {invite && (
        <Dialog title={`Invited ${invite.email}`} onClose={() => setInvite(undefined)}>
          <p>Give them this one-time activation token (valid 7 days); they set their password with it on the login page.</p>
          <input readOnly className="mono" aria-label="Activation token" value={invite.token} onFocus={(e) => e.target.select()} />
          <div className="actions">
            <button type="button" className="primary" onClick={() => setInvite(undefined)}>
              Done
            </button>
          </div>
        </Dialog>
      )}
    </>
  );
}
