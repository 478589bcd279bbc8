/** The frame around every page: navigation, team switcher, who is logged in, log out. */
import type { ReactNode } from 'react';
import { api, apiList } from './api';
import { useAction, usePoll } from './hooks';
import { href } from './router';
import { clearSession, session } from './session';
import type { Session, Team } from './types';
import { ErrorText } from './ui';

function NavLink({ to, current, children }: { to: string; current: boolean; children: ReactNode }) {
  return (
    <a href={to} aria-current={current ? 'page' : undefined} className={current ? 'active' : undefined}>
      {children}
    </a>
  );
}

function TeamSwitcher({ s }: { s: Session }) {
  const teams = usePoll(() => apiList<Team>('/teams', 'teams'), [s.token]);
  const sw = useAction(async (teamId: string) => {
    session.set(await api<Session>('POST', '/auth/switch-team', { team_id: teamId }));
    location.hash = '#/capsules';
  });
  return (
    <div className="team-switcher">
      <label>
        Team
        <select value={s.team.id} disabled={sw.busy} onChange={(e) => void sw.run(e.target.value)}>
          {(teams.data ?? [s.team]).map((t) => (
            <option key={t.id} value={t.id}>
              {t.name} ({t.role})
            </option>
          ))}
        </select>
      </label>
      <ErrorText error={sw.error ?? teams.error} />
    </div>
  );
}

/** Whoever logs in next starts at the capsules, not on a page of this session's team. */
function logOut() {
  clearSession();
  location.hash = '#/';
}

export function Shell({ s, section, children }: { s: Session; section: string; children: ReactNode }) {
  const logoutAll = useAction(async () => {
    await api('POST', '/auth/logout-all');
    logOut();
  });
  return (
    <div className="shell">
      <a className="skip" href="#main">
        Skip to content
      </a>
      <aside className="sidebar">
        <div className="brand">◆ Wrenn</div>
        <TeamSwitcher s={s} />
        <nav aria-label="Main">
          <NavLink to={href('capsules')} current={section === 'capsules'}>
            Capsules
          </NavLink>
          <NavLink to={href('templates')} current={section === 'templates'}>
            Templates
          </NavLink>
          <NavLink to={href('builds')} current={section === 'builds'}>
            Builds
          </NavLink>
          <NavLink to={href('usage')} current={section === 'usage'}>
            Usage
          </NavLink>
          <NavLink to={href('channels')} current={section === 'channels'}>
            Channels
          </NavLink>
          <NavLink to={href('keys')} current={section === 'keys'}>
            API keys
          </NavLink>
          <NavLink to={href('team')} current={section === 'team'}>
            Team
          </NavLink>
          <NavLink to={href('account')} current={section === 'account'}>
            Account
          </NavLink>
          <NavLink to={href('audit')} current={section === 'audit'}>
            Audit log
          </NavLink>
          {s.user.is_admin && (
            <>
              <div className="nav-heading">Admin</div>
              <NavLink to={href('admin', 'hosts')} current={section === 'admin-hosts'}>
                Hosts
              </NavLink>
              <NavLink to={href('admin', 'users')} current={section === 'admin-users'}>
                Users
              </NavLink>
              <NavLink to={href('admin', 'teams')} current={section === 'admin-teams'}>
                Teams
              </NavLink>
              <NavLink to={href('admin', 'capsules')} current={section === 'admin-capsules'}>
                Platform capsules
              </NavLink>
            </>
          )}
        </nav>
        <div className="who">
          <div className="muted small" title={s.user.email}>
            {s.user.name || s.user.email}
          </div>
          <button type="button" onClick={logOut}>
            Log out
          </button>
          <button type="button" className="ghost small" disabled={logoutAll.busy} onClick={() => void logoutAll.run()}>
            Log out everywhere
          </button>
          <ErrorText error={logoutAll.error} />
        </div>
      </aside>
      <main id="main" className="content" tabIndex={-1}>
        {children}
      </main>
    </div>
  );
}
