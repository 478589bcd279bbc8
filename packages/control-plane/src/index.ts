export { createControlPlane, type ControlPlane, type ControlPlaneExtension, type ControlPlaneOptions } from './app.js';
export { loadControlPlaneConfig, type ControlPlaneConfig } from './start/config.js';
export type { ControlPlaneContext, Worker } from './context.js';
