/**
 * Registers the in-process host agent with the in-process control plane through the real
 * host routes, as a remote agent would: an administrator creates the host (one-time token),
 * the agent's ControlPlaneLink registers with it and heartbeats. Later starts reuse the
 * credentials the link saved under the data dir, so no new host appears per restart, also
 * when the API or the agent comes back on other ports: the same host record then takes the
 * new addresses (a second record would stay `up` with a dead address until the heartbeat
 * window ran out, and take capsules meanwhile).
 */
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { ControlPlaneLink, AGENT_VERSION, type AgentConfig, type HostAgent } from '@wrenn/host-agent';
import { isWrennApiError, type Wrenn } from '@wrenn/sdk';
import type { Logger } from '@wrenn/shared';

interface SavedLink {
  control_plane_url?: string;
  host_id?: string;
  refresh_token?: string;
}

function savedLink(dataDir: string): SavedLink | undefined {
  try {
    return JSON.parse(readFileSync(ControlPlaneLink.credentialsPath(dataDir), 'utf8')) as SavedLink;
  } catch {
    return undefined;
  }
}

const trim = (u: string) => u.replace(/\/+$/, '');

/**
 * Whether the saved credentials name a host this control plane still has. `wrenn up` keeps
 * the database in the same data dir as the credentials, so a host it finds is its own even
 * when the API listens on another port now.
 */
async function savedHostUsable(admin: Wrenn, saved: SavedLink | undefined): Promise<boolean> {
  if (!saved?.host_id || !saved.control_plane_url || !saved.refresh_token) return false;
  try {
    await admin.hosts.get(saved.host_id);
    return true;
  } catch (err) {
    if (isWrennApiError(err) && err.status === 404) return false;
    throw err;
  }
}

/** Points the saved credentials at this control plane's current URL (same file, same mode 0600, replaced atomically). */
function retarget(dataDir: string, saved: SavedLink, apiUrl: string): void {
  if (trim(saved.control_plane_url ?? '') === trim(apiUrl)) return;
  const path = ControlPlaneLink.credentialsPath(dataDir);
  writeFileSync(`${path}.tmp`, JSON.stringify({ ...saved, control_plane_url: trim(apiUrl) }), { mode: 0o600 });
  renameSync(`${path}.tmp`, path);
}

export interface LocalHost {
  hostId: string;
  link: ControlPlaneLink;
}

export async function linkLocalAgent(opts: {
  apiUrl: string;
  /** Client with an administrator's token. */
  admin: Wrenn;
  agent: HostAgent;
  agentConfig: AgentConfig;
  logger: Logger;
  signal: AbortSignal;
  /** How long to wait for the host to be `up`. */
  timeoutMs?: number;
}): Promise<LocalHost> {
  const { admin, agent, agentConfig } = opts;
  const saved = savedLink(agentConfig.dataDir);
  const reuse = await savedHostUsable(admin, saved);
  if (reuse) retarget(agentConfig.dataDir, saved!, opts.apiUrl);
  const registerToken = reuse ? undefined : (await admin.hosts.create({ name: `${hostname()} (wrenn up)`.slice(0, 128) }, { signal: opts.signal })).registrationToken;
  const config: AgentConfig = {
    ...agentConfig,
    controlPlaneUrl: opts.apiUrl,
    registerToken,
    advertiseUrl: `http://127.0.0.1:${agent.port}`,
  };
  const link = await ControlPlaneLink.fromConfig(config, agent, opts.logger, AGENT_VERSION);
  if (!link) throw new Error('internal: the agent link was not created although a control plane URL and credentials were given');
  link.start();
  try {
    const deadline = Date.now() + (opts.timeoutMs ?? 60_000);
    const hostId = await Promise.race([link.registered(), sleep(opts.timeoutMs ?? 60_000, undefined, { signal: opts.signal }).then(() => undefined)]);
    if (!hostId) throw new Error('the local host agent did not register with the control plane in time (see the log lines above)');
    // A reused host may still be `down` from the last stop, or `up` with the last start's
    // address, until the first heartbeat lands.
    for (;;) {
      const host = await admin.hosts.get(hostId, { signal: opts.signal });
      if ((host.status === 'online' || host.status === 'up') && host.agentUrl === config.advertiseUrl) return { hostId, link };
      if (Date.now() > deadline) throw new Error(`the local host ${hostId} is ${host.status}, not up, after ${((opts.timeoutMs ?? 60_000) / 1000).toFixed(0)} s`);
      await sleep(200, undefined, { signal: opts.signal });
    }
  } catch (err) {
    await link.close();
    throw err;
  }
}
