/**
 * Accounts: users, teams and memberships, API keys, activation, administration and the
 * first-admin bootstrap. No HTTP here: routes in src/http/routes/accounts/ call these.
 */
export { ensureAdmin, DEFAULT_ADMIN_EMAIL, type EnsureAdminResult } from './bootstrap.js';
export { signup, login, getMe, reissueSession, updateMe, changePassword, deleteMe, createUserWithTeam, MIN_PASSWORD_LENGTH, type RequestMeta, type MeView } from './users.js';
export { listTeams, createTeam, getTeam, renameTeam, deleteTeam, switchTeam, type TeamDetailView } from './teams.js';
export { listMembers, addMember, changeRole, removeMember } from './members.js';
export { createApiKey, listApiKeys, revokeApiKey, type CreatedApiKey } from './keys.js';
export { createInactiveUser, activate, resetPassword, ACTIVATION_TTL_MS, type CreatedUser, type PasswordReset } from './activation.js';
export { logoutEverywhere } from './sessions.js';
export { requestPasswordReset, confirmPasswordReset, PASSWORD_RESET_TTL_MS } from './password-reset.js';
export { listUsers, updateUser } from './admin.js';
export { searchUsers, adminListUsers, countUsers, type AdminUserView } from './directory.js';
export type { UserView, TeamView, MemberView, ApiKeyView, Session } from './views.js';
