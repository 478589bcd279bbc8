export * from './infra/exec.js';
// The agent as a library, for `wrenn up` (control plane and agent in one process).
export { startHostAgent, AGENT_VERSION, type HostAgent, type StartOptions } from './start/agent.js';
export { loadAgentConfig, type AgentConfig } from './start/config.js';
export type { TemplateBuildProgress } from './infra/template/index.js';
export * from './start/register.js';
export { ControlPlaneLink, type ControlPlaneLinkOptions } from './start/register.js';
