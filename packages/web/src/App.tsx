/** Which page the hash names, behind the login when there is no session. */
import { useEffect } from 'react';
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

export function App() {
  const s = useSession();
  const route = useRoute();
  const [first, second] = route;
  useEffect(() => {
    document.title = first ? `${first} · Wrenn` : 'Wrenn';
  }, [first]);
  if (!s) return <LoginPage />;
  let section = first ?? 'capsules';
  let page;
  if (first === 'capsules' && second) page = <CapsulePage key={second} id={second} tab={route[2] ?? 'terminal'} />;
  else if (first === 'keys') page = <ApiKeysPage />;
  else if (first === 'team') page = <TeamPage s={s} />;
  else if (first === 'audit') page = <AuditPage />;
  else if (first === 'templates') page = <TemplatesPage />;
  else if (first === 'admin' && s.user.is_admin && second === 'users') (page = <UsersPage me={s.user.id} />), (section = 'admin-users');
  else if (first === 'admin' && s.user.is_admin) (page = <HostsPage />), (section = 'admin-hosts');
  else (page = <CapsulesPage />), (section = 'capsules');
  return (
    <Shell s={s} section={section}>
      {page}
    </Shell>
  );
}
