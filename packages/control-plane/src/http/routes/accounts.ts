/**
 * Accounts API: /auth/* (signup, login, activate, switch-team), /auth/oauth/* (login by a provider), /me (and password reset by email, providers), /api-keys, /teams
 * (and members, leave), /users/search, /audit-logs and /admin/users. Each sub-module registers its own auth
 * scope; the handlers live in src/domain/accounts.
 */
import type { FastifyInstance } from 'fastify';
import type { ControlPlaneContext } from '../../context.js';
import { adminTeamsRoutes } from './accounts/admin-teams.js';
import { adminUsersRoutes } from './accounts/admin-users.js';
import { apiKeysRoutes } from './accounts/api-keys.js';
import { auditLogsRoutes } from './accounts/audit-logs.js';
import { authRoutes } from './accounts/auth.js';
import { meRoutes } from './accounts/me.js';
import { passwordResetRoutes } from './accounts/password-reset.js';
import { oauthRoutes } from './accounts/oauth.js';
import { teamsRoutes } from './accounts/teams.js';
import { usersSearchRoutes } from './accounts/users-search.js';

export async function accountsRoutes(app: FastifyInstance, ctx: ControlPlaneContext): Promise<void> {
  await authRoutes(app, ctx);
  await meRoutes(app, ctx);
  await passwordResetRoutes(app, ctx);
  await oauthRoutes(app, ctx);
  await apiKeysRoutes(app, ctx);
  await teamsRoutes(app, ctx);
  await usersSearchRoutes(app, ctx);
  await auditLogsRoutes(app, ctx);
  await adminUsersRoutes(app, ctx);
  await adminTeamsRoutes(app, ctx);
}
