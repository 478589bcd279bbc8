export { createEnvd, type Envd } from './server.js';
export { loadConfig, type EnvdConfig } from './start/config.js';
export { ENVD_VERSION } from './version.js';
export { fileSignature } from './core/auth.js';
