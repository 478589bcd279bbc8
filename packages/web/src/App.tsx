/** Which page the hash names, behind the login when there is no session. */
import { useEffect, useState } from 'react';
import { useRoute } from './router';
import { useSession } from './session';
import { Shell } from './Shell';
import { LoginPage } from './pages/Login';
import { CapsulesPage } from './pages/Capsules';
import { CapsulePage } from './capsule/CapsulePage';
import { ApiKeysPage } from './pages/ApiKeys';
import { TeamPage } from './pages/Team';
import { AuditPage } from './pages/Audit';
import { TemplatesPage } from './pages/Templates';
import { HostsPage } from './admin/Hosts';
import { UsersPage } from './admin/Users';
import { TeamsPage } from './admin/Teams';
import { AdminCapsulesPage } from './admin/Capsules';
import { BuildsPage } from './pages/Builds';
import { BuildPage } from './pages/BuildPage';
import { UsagePage } from './pages/Usage';
import { AccountPage } from './pages/Account';
import { ChannelsPage } from './pages/Channels';
import { OAuthCallbackPage, ResetPasswordPage } from './pages/AuthLinks';

export function App() {
  const s = useSession();
  const route = useRoute();
  const [first, second] = route;
  useEffect(() => {
    document.title = first ? `${first} · Wrenn` : 'Wrenn';
  }, [first]);
  const [notice, setNotice] = useState<string>();
  // The server's own links land by path (see AuthLinks.tsx); everything else is hash-routed.
  const path = location.pathname;
  if (path === '/reset-password') return <ResetPasswordPage />;
  if (/^\/auth\/[^/]+\/callback$/.test(path)) return <OAuthCallbackPage onError={setNotice} />;
  if (path === '/dashboard/settings') history.replaceState(null, '', `/${location.search}#/account`);
  if (!s) return <LoginPage notice={notice} />;
  let section = first ?? 'capsules';
  let page;
  if (first === 'capsules' && second) page = <CapsulePage key={second} id={second} tab={route[2] ?? 'terminal'} />;
  else if (first === 'keys') page = <ApiKeysPage />;
  else if (first === 'team') page = <TeamPage s={s} />;
  else if (first === 'audit') page = <AuditPage />;
  else if (first === 'templates') page = <TemplatesPage />;
  else if (first === 'builds' && second) (page = <BuildPage key={second} id={second} />), (section = 'builds');
  else if (first === 'builds') page = <BuildsPage />;
  else if (first === 'usage') page = <UsagePage />;
  else if (first === 'account') page = <AccountPage />;
  else if (first === 'channels') page = <ChannelsPage />;
  else if (first === 'admin' && s.user.is_admin && second === 'users') (page = <UsersPage me={s.user.id} />), (section = 'admin-users');
  else if (first === 'admin' && s.user.is_admin && second === 'teams') (page = <TeamsPage />), (section = 'admin-teams');
  else if (first === 'admin' && s.user.is_admin && second === 'capsules') (page = <AdminCapsulesPage />), (section = 'admin-capsules');
  else if (first === 'admin' && s.user.is_admin) (page = <HostsPage />), (section = 'admin-hosts');
  else (page = <CapsulesPage />), (section = 'capsules');
  return (
    <Shell s={s} section={section}>
      {page}
    </Shell>
  );
}
