/** The current team: its members and their roles (owners and admins manage them). */
import { useState } from 'react';
import { api, messageOf, apiList } from '../api';
import { useAction, usePoll } from '../hooks';
import type { Member, Role, Session } from '../types';
import { ErrorText } from '../ui';

const ROLES: Role[] = ['owner', 'admin', 'member'];

export function TeamPage({ s }: { s: Session }) {
  const teamPath = `/teams/${encodeURIComponent(s.team.id)}`;
  const members = usePoll(() => apiList<Member>(`${teamPath}/members`, 'members'), [teamPath]);
  const manage = s.team.role !== 'member';
  const [email, setEmail] = useState('');
  const [role, setRole] = useState<Role>('member');
  const add = useAction(async () => {
    await api('POST', `${teamPath}/members`, { email, role });
    setEmail('');
    members.reload();
  });
  const [rowError, setRowError] = useState<{ id: string; message: string }>();
  const change = async (m: Member, next: Role | 'remove') => {
    setRowError(undefined);
    try {
      if (next === 'remove') await api('DELETE', `${teamPath}/members/${encodeURIComponent(m.user_id)}`);
      else await api('PATCH', `${teamPath}/members/${encodeURIComponent(m.user_id)}`, { role: next });
      members.reload();
    } catch (err) {
      setRowError({ id: m.user_id, message: messageOf(err) });
    }
  };
  const [teamName, setTeamName] = useState('');
  const createTeam = useAction(async () => {
    await api('POST', '/teams', { name: teamName });
    setTeamName('');
  });
  return (
    <>
      <header className="page-head">
        <div>
          <h1>{s.team.name}</h1>
          <p className="muted">
            Your role: {s.team.role} · <span className="mono">{s.team.id}</span>
          </p>
        </div>
      </header>
      <h2>Members</h2>
      {manage && (
        <form
          className="toolbar"
          onSubmit={(e) => {
            e.preventDefault();
            void add.run();
          }}
        >
          <label className="grow">
            Add a member by email
            <input type="email" required value={email} onChange={(e) => setEmail(e.target.value)} />
          </label>
          <label>
            Role
            <select value={role} onChange={(e) => setRole(e.target.value as Role)}>
              {ROLES.map((r) => (
                <option key={r}>{r}</option>
              ))}
            </select>
          </label>
          <button type="submit" disabled={add.busy}>
            Add
          </button>
        </form>
      )}
      <ErrorText error={add.error ?? members.error} />
      <table className="table">
        <caption className="sr-only">Members</caption>
        <thead>
          <tr>
            <th scope="col">Name</th>
            <th scope="col">Email</th>
            <th scope="col">Role</th>
            <th scope="col">
              <span className="sr-only">Actions</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {(members.data ?? []).map((m) => (
            <tr key={m.user_id}>
              <td>{m.name}</td>
              <td>{m.email}</td>
              <td>
                {manage ? (
                  <select aria-label={`Role of ${m.email}`} value={m.role} onChange={(e) => void change(m, e.target.value as Role)}>
                    {ROLES.map((r) => (
                      <option key={r}>{r}</option>
                    ))}
                  </select>
                ) : (
                  m.role
                )}
              </td>
              <td className="right">
                {(manage || m.user_id === s.user.id) && (
                  <button type="button" className="small danger" onClick={() => void change(m, 'remove')}>
                    {m.user_id === s.user.id ? 'Leave' : 'Remove'}
                  </button>
                )}
                {rowError?.id === m.user_id && <ErrorText error={rowError.message} />}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <h2>New team</h2>
      <form
        className="toolbar"
        onSubmit={(e) => {
          e.preventDefault();
          void createTeam.run();
        }}
      >
        <label className="grow">
          Team name
          <input required maxLength={200} value={teamName} onChange={(e) => setTeamName(e.target.value)} />
        </label>
        <button type="submit" disabled={createTeam.busy}>
          Create team
        </button>
      </form>
      <ErrorText error={createTeam.error} />
      {createTeam.busy === false && !createTeam.error && <p className="muted small">Switch to a team with the selector in the sidebar.</p>}
    </>
  );
}
