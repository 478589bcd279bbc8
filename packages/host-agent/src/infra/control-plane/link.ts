/**
 * The agent's link to a control plane (a heartbeat client). On first start it exchanges a one-time
 * registration token (`wrenn-agent --register TOKEN --control-plane URL`) for host
 * credentials, saved to `<dataDir>/control-plane.json` (0600) so a restarted agent needs no
 * token; then it heartbeats its capacity every `heartbeatMs`, refreshing its 1 h access
 * token before it expires (the refresh token rotates on every use and is saved each time).
 * An unreachable control plane is logged and retried with backoff; it never stops the agent.
 *
 * @example
 * const link = await ControlPlaneLink.fromConfig(config, agent, logger); // undefined: standalone
 * link?.start();
 * await link?.close();
 */
import { networkInterfaces } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from '@wrenn/shared';
import { credentialsPath, readCredentials, writeCredentials, type SavedCredentials } from './credentials.js';
import { hostFacts, type HostCapacity } from './host-capacity.js';

/** The agent settings a link is made from (a subset of AgentConfig). */
export interface LinkConfig {
  dataDir: string;
  host: string;
  advertiseUrl?: string | undefined;
  proxyAdvertiseUrl?: string | undefined;
  controlPlaneUrl?: string | undefined;
  registerToken?: string | undefined;
  heartbeatSec: number;
  vcpusTotal: number;
}

/** `http://<listen host>:<port>`; a wildcard listen address is replaced by this machine's first external IPv4. */
export function defaultAdvertiseUrl(host: string, port: number): string {
  let h = host;
  if (h === '0.0.0.0' || h === '::' || h === '') {
    const external = Object.values(networkInterfaces())
      .flat()
      .find((i) => i && i.family === 'IPv4' && !i.internal);
    h = external?.address ?? '127.0.0.1';
  }
  return `http://${h.includes(':') ? `[${h}]` : h}:${port}`;
}

interface Session {
  host_id: string;
  access_token: string;
  refresh_token: string;
  expires_in: number;
}

/** An answer of the control plane that was not 2xx. */
export class ControlPlaneRefused extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export interface ControlPlaneLinkOptions {
  dataDir: string;
  /** Unset: the URL saved at registration. */
  controlPlaneUrl?: string;
  registerToken?: string;
  /** Where the control plane reaches this agent's RPC server. */
  advertiseUrl: string;
  /** Where the control plane reaches this agent's proxy listener (proxied capsule ports). */
  proxyUrl?: string;
  /** Bearer token the control plane must present to this agent. */
  agentToken: string;
  version: string;
  heartbeatMs: number;
  facts: () => Promise<HostCapacity>;
  logger: Logger;
  /** Backoff after a failure: doubles from min to max. Defaults 1 s and 60 s. */
  retryMinMs?: number;
  retryMaxMs?: number;
  /** Deadline of each request to the control plane. Default 15 s. */
  requestTimeoutMs?: number;
}

export class ControlPlaneLink {
  private readonly abort = new AbortController();
  private readonly log: Logger;
  private loop: Promise<void> | undefined;
  private creds: SavedCredentials | undefined;
  private access: { token: string; refreshAtMs: number } | undefined;
  private accessRefused = false;
  private waiters: Array<{ resolve: (hostId: string) => void; reject: (err: Error) => void }> = [];
  /** Time and answer of the last successful heartbeat. */
  lastHeartbeat: { atMs: number; status: string } | undefined;

  constructor(private readonly opts: ControlPlaneLinkOptions) {
    this.log = opts.logger.child({ component: 'control-plane-link' });
  }

  /** A link for a started agent, or undefined when it has neither a control plane to register with nor saved credentials. */
  static async fromConfig(
    config: LinkConfig,
    agent: { token: string; port: number; proxyPort?: number; manager: { list(): unknown[] }; admission?: { queued: number; active: number } },
    logger: Logger,
    version: string,
  ): Promise<ControlPlaneLink | undefined> {
    const saved = await readCredentials(config.dataDir, logger);
    if (!saved && !(config.controlPlaneUrl && config.registerToken)) {
      if (config.controlPlaneUrl || config.registerToken) {
        logger.warn('control plane link off: --register TOKEN and --control-plane URL are both needed for the first registration');
      }
      return undefined;
    }
    const advertiseUrl = config.advertiseUrl ?? defaultAdvertiseUrl(config.host, agent.port);
    const proxyUrl = config.proxyAdvertiseUrl ?? (agent.proxyPort ? withPort(advertiseUrl, agent.proxyPort) : undefined);
    return new ControlPlaneLink({
      dataDir: config.dataDir,
      ...(config.controlPlaneUrl ? { controlPlaneUrl: config.controlPlaneUrl } : {}),
      ...(config.registerToken ? { registerToken: config.registerToken } : {}),
      advertiseUrl,
      ...(proxyUrl ? { proxyUrl } : {}),
      agentToken: agent.token,
      version,
      heartbeatMs: config.heartbeatSec * 1000,
      facts: () => hostFacts(config, () => agent.manager.list().length, agent.admission ? () => ({ waiting: agent.admission!.queued, active: agent.admission!.active }) : undefined),
      logger,
    });
  }

  static credentialsPath(dataDir: string): string {
    return credentialsPath(dataDir);
  }

  /** The control plane's id of this host, once registered. */
  get hostId(): string | undefined {
    return this.creds?.host_id;
  }

  start(): this {
    this.loop ??= this.run();
    return this;
  }

  /** Resolves with the host id once the agent holds credentials (at once when it already does); rejects if closed first. */
  registered(): Promise<string> {
    if (this.creds) return Promise.resolve(this.creds.host_id);
    if (this.abort.signal.aborted) return Promise.reject(new Error('the control plane link is closed'));
    return new Promise((resolve, reject) => this.waiters.push({ resolve, reject }));
  }

  /** Stops heartbeating (the control plane will mark the host down); credentials stay saved. */
  async close(): Promise<void> {
    this.abort.abort();
    await this.loop;
    for (const w of this.waiters.splice(0)) w.reject(new Error('the control plane link closed before registering'));
  }

  private async run(): Promise<void> {
    const { retryMinMs = 1000, retryMaxMs = 60_000 } = this.opts;
    const saved = await readCredentials(this.opts.dataDir, this.log);
    if (saved && this.opts.controlPlaneUrl && trimSlash(saved.control_plane_url) !== trimSlash(this.opts.controlPlaneUrl)) {
      this.log.warn({ saved: saved.control_plane_url, configured: this.opts.controlPlaneUrl }, 'saved credentials are for another control plane: registering anew');
    } else if (saved) {
      this.setCredentials(saved);
    }
    let backoff = retryMinMs;
    let failures = 0;
    while (!this.abort.signal.aborted) {
      try {
        await this.ensureSession();
        await this.heartbeat();
        backoff = retryMinMs;
        failures = 0;
        await sleep(this.opts.heartbeatMs, undefined, { signal: this.abort.signal });
      } catch (err) {
        if (this.abort.signal.aborted) break;
        failures++;
        const refused = err instanceof ControlPlaneRefused;
        // An access token refused once (expired early, control plane restarted with another
        // secret) is renewed at once; anything else waits, doubling each time.
        const retryInMs = failures === 1 && this.accessRefused ? 0 : backoff;
        this.accessRefused = false;
        this.log[refused && err.status < 500 ? 'error' : 'warn'](
          { err: (err as Error).message, status: refused ? err.status : undefined, retryInMs, controlPlane: this.baseUrl() },
          'control plane link: request failed; retrying',
        );
        if (retryInMs > 0) backoff = Math.min(retryMaxMs, backoff * 2);
        await sleep(retryInMs, undefined, { signal: this.abort.signal }).catch(() => {});
      }
    }
  }

  private baseUrl(): string | undefined {
    const url = this.creds?.control_plane_url ?? this.opts.controlPlaneUrl;
    return url ? trimSlash(url) : undefined;
  }

  private async ensureSession(): Promise<void> {
    if (!this.creds) {
      await this.register();
      return;
    }
    if (this.access && Date.now() < this.access.refreshAtMs) return;
    try {
      await this.adopt(await this.post<Session>('/hosts/auth/refresh', { refresh_token: this.creds.refresh_token }));
    } catch (err) {
      if (err instanceof ControlPlaneRefused && err.status === 401 && this.opts.registerToken) {
        // The saved credentials are dead (host deleted, token rotated elsewhere): a
        // registration token on the command line is the way back.
        this.log.warn({ err: err.message }, 'saved credentials refused: registering with the configured token');
        this.creds = undefined;
        await this.register();
        return;
      }
      throw err;
    }
  }

  private async register(): Promise<void> {
    if (!this.opts.registerToken || !this.opts.controlPlaneUrl) {
      throw new Error('no saved control plane credentials and no registration token: restart with --register TOKEN --control-plane URL');
    }
    const facts = await this.opts.facts();
    const session = await this.post<Session>(
      '/hosts/register',
      {
        token: this.opts.registerToken,
        agent_url: this.opts.advertiseUrl,
        agent_token: this.opts.agentToken,
        ...(this.opts.proxyUrl ? { proxy_url: this.opts.proxyUrl } : {}),
        version: this.opts.version,
        vcpus_total: facts.vcpus_total,
        memory_total_bytes: facts.memory_total_bytes,
        memory_free_bytes: facts.memory_free_bytes,
        disk_free_bytes: facts.disk_free_bytes,
      },
      undefined,
      this.opts.controlPlaneUrl,
    );
    await this.adopt(session, trimSlash(this.opts.controlPlaneUrl));
    this.log.info({ hostId: session.host_id, advertiseUrl: this.opts.advertiseUrl }, 'registered with the control plane');
  }

  /** Saves a new session: the refresh token goes to disk before anything else uses it. */
  private async adopt(session: Session, url = this.creds!.control_plane_url): Promise<void> {
    const creds: SavedCredentials = { control_plane_url: url, host_id: session.host_id, refresh_token: session.refresh_token };
    await writeCredentials(this.opts.dataDir, creds);
    this.setCredentials(creds);
    // Renewed at 80% of its lifetime, so a slow or briefly unreachable control plane has slack.
    this.access = { token: session.access_token, refreshAtMs: Date.now() + session.expires_in * 800 };
  }

  private setCredentials(creds: SavedCredentials): void {
    this.creds = creds;
    for (const w of this.waiters.splice(0)) w.resolve(creds.host_id);
  }

  private async heartbeat(): Promise<void> {
    const facts = await this.opts.facts();
    try {
      const res = await this.post<{ status: string }>(
        `/hosts/${encodeURIComponent(this.creds!.host_id)}/heartbeat`,
        {
          capsules: facts.capsules,
          memory_free_bytes: facts.memory_free_bytes,
          disk_free_bytes: facts.disk_free_bytes,
          vcpus_total: facts.vcpus_total,
          memory_total_bytes: facts.memory_total_bytes,
          ...(facts.start_queue ? { start_queue: facts.start_queue } : {}),
          agent_url: this.opts.advertiseUrl,
          agent_token: this.opts.agentToken,
          ...(this.opts.proxyUrl ? { proxy_url: this.opts.proxyUrl } : {}),
          version: this.opts.version,
        },
        this.access!.token,
      );
      if (this.lastHeartbeat?.status !== res.status) this.log.info({ hostId: this.creds!.host_id, status: res.status }, 'heartbeat accepted');
      this.lastHeartbeat = { atMs: Date.now(), status: res.status };
    } catch (err) {
      if (err instanceof ControlPlaneRefused && err.status === 401) {
        this.access = undefined;
        this.accessRefused = true;
      }
      throw err;
    }
  }

  private async post<T>(path: string, body: unknown, bearer?: string, base = this.baseUrl()): Promise<T> {
    if (!base) throw new Error('no control plane URL: pass --control-plane URL');
    const signal = AbortSignal.any([this.abort.signal, AbortSignal.timeout(this.opts.requestTimeoutMs ?? 15_000)]);
    const res = await fetch(`${trimSlash(base)}/v1${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(bearer ? { authorization: `Bearer ${bearer}` } : {}) },
      body: JSON.stringify(body),
      signal,
    });
    const text = await res.text();
    let json: unknown;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = undefined;
    }
    if (!res.ok) {
      const e = (json as { error?: { code?: string; message?: string } } | undefined)?.error;
      throw new ControlPlaneRefused(res.status, e?.code ?? 'http_error', `POST ${path}: ${res.status} ${e?.message ?? text.slice(0, 200)}`);
    }
    return json as T;
  }
}

/** The same URL on another port (the proxy listener beside the RPC server). */
export function withPort(url: string, port: number): string {
  const u = new URL(url);
  u.port = String(port);
  return trimSlash(u.toString());
}

function trimSlash(url: string): string {
  return url.replace(/\/+$/, '');
}
