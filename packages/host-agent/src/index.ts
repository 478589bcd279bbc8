export * from './infra/exec.js';
// The agent as a library, for `wrenn up` (control plane and agent in one process).
export { startHostAgent, AGENT_VERSION, type HostAgent, type StartOptions } from './start/agent.js';
export { loadAgentConfig, type AgentConfig } from './start/config.js';
export type { TemplateBuildProgress } from './infra/template/index.js';
export * from './infra/control-plane/link.js';
export * from './infra/control-plane/host-capacity.js';
export { CREDENTIALS_FILE } from './infra/control-plane/credentials.js';
export { applyRegisterFlags } from './start/register-flags.js';
