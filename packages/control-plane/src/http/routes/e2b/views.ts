/**
 * The JSON the e2b SDK reads for a sandbox: `Sandbox` (create, connect, fork),
 * `ListedSandbox` (list) and `SandboxDetail` (get). Every sandbox gets its envd access
 * token (envd always checks one on Wrenn), and `domain` is WRENN_PROXY_DOMAIN when set, so
 * the SDK addresses `{port}-{sandboxID}.{domain}` or, without it, E2B_SANDBOX_URL.
 */
import { ENVD_VERSION } from '@wrenn/shared';
import type { ControlPlaneContext } from '../../../context.js';
import type { SandboxRecord, SandboxState } from '../../../domain/e2b/sandboxes.js';
import { stateOf } from '../../../domain/e2b/sandboxes.js';

function common(ctx: ControlPlaneContext, r: SandboxRecord) {
  return {
    sandboxID: r.capsule.id,
    templateID: r.sandbox.template_id,
    // E2B's clientID named the machine; Wrenn's host id is the same fact.
    clientID: r.capsule.host_id ?? '',
    envdVersion: ENVD_VERSION,
  };
}

export function sandboxView(ctx: ControlPlaneContext, r: SandboxRecord) {
  return {
    ...common(ctx, r),
    ...(r.capsule.envd_token ? { envdAccessToken: r.capsule.envd_token } : {}),
    domain: ctx.config.proxyDomain ?? null,
  };
}

export function listedView(ctx: ControlPlaneContext, r: SandboxRecord) {
  const state: SandboxState = stateOf(r.capsule) ?? 'paused';
  return {
    ...common(ctx, r),
    startedAt: new Date(r.sandbox.started_at).toISOString(),
    // Paused: the moment it paused (no lifetime runs while paused).
    endAt: new Date(r.sandbox.end_at ?? r.capsule.updated_at).toISOString(),
    cpuCount: r.capsule.vcpus,
    memoryMB: r.capsule.memory_mb,
    diskSizeMB: r.capsule.disk_size_mb,
    metadata: r.capsule.metadata,
    state,
    volumeMounts: [] as Array<{ name: string; path: string }>,
  };
}

export function detailView(ctx: ControlPlaneContext, r: SandboxRecord) {
  return {
    ...listedView(ctx, r),
    ...(r.capsule.envd_token ? { envdAccessToken: r.capsule.envd_token } : {}),
    domain: ctx.config.proxyDomain ?? null,
    allowInternetAccess: r.sandbox.allow_internet_access,
    network: { allowOut: r.sandbox.allow_out, denyOut: r.sandbox.deny_out },
    lifecycle: { onTimeout: r.sandbox.on_timeout, autoResume: r.capsule.auto_resume },
  };
}
