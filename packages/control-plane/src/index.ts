export { createControlPlane, type ControlPlane, type ControlPlaneExtension, type ControlPlaneOptions } from './app.js';
export { loadControlPlaneConfig, type ControlPlaneConfig } from './start/config.js';
export type { ControlPlaneContext, Worker } from './context.js';
// First start of `wrenn up`: the administrator and their API key.
export { ensureAdmin, DEFAULT_ADMIN_EMAIL, type EnsureAdminResult } from './domain/accounts/index.js';
