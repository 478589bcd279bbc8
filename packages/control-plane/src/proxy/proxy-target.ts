/**
 * Where a proxied request for a capsule goes: the capsule's host agent proxy listener,
 * with the agent's token. No API key is asked for: E2B's sandbox traffic is authorised by
 * envd's own access token (X-Access-Token) and by whatever the user's server checks; what
 * the control plane requires is that the capsule exists and runs. Capsule ids are not
 * guessable (domain/ids.ts: `cl-` + 16 characters drawn by crypto.randomBytes from 36,
 * about 82 bits), so naming one is knowing one.
 *
 * A paused capsule created with `auto_resume` is resumed first (the same path as the REST
 * and WebSocket routes: usableCapsule); without it, or in any other state, the answer is
 * 502 `capsule_unreachable`, which the e2b SDK's isRunning() reads as "not running".
 * Concurrent requests for one capsule share one lookup (usableCapsule shares the resume
 * with every other caller too).
 */
import { WrennError } from '@wrenn/shared';
import type { ControlPlaneContext } from '../context.js';
import type { CapsuleHost } from '../domain/capsule-access.js';
import { usableCapsule } from '../domain/capsules/pause.js';
import { asWrennError } from '@wrenn/shared/connect';

export interface ProxyRoute {
  capsuleId: string;
  hostId: string;
  /** The agent's proxy listener, e.g. http://10.0.0.5:50053. */
  proxyUrl: string;
  agentToken: string;
}

const MAX_REMEMBERED = 10_000;
const HEALTH_TIMEOUT_MS = 5_000;

export class ProxyTargets {
  /** Capsule id → team id: a fact that never changes, remembered without expiry (bounded). */
  private readonly teams = new Map<string, string>();
  private readonly lookups = new Map<string, Promise<ProxyRoute>>();
  /** Proxy URLs learnt from agents' Health (hosts registered without one), by host id. */
  private readonly learnt = new Map<string, Promise<string>>();

  constructor(private readonly ctx: ControlPlaneContext) {}

  /** The route of a running capsule (resumed first when auto_resume); 502 capsule_unreachable otherwise. */
  resolve(capsuleId: string): Promise<ProxyRoute> {
    let p = this.lookups.get(capsuleId);
    if (!p) {
      p = this.lookup(capsuleId).finally(() => this.lookups.delete(capsuleId));
      this.lookups.set(capsuleId, p);
    }
    return p;
  }

  private async lookup(capsuleId: string): Promise<ProxyRoute> {
    try {
      const { host } = await usableCapsule(this.ctx, await this.teamOf(capsuleId), capsuleId, 'proxy traffic to');
      return await this.routeVia(capsuleId, host!);
    } catch (err) {
      throw unreachable(err, capsuleId);
    }
  }

  /** The capsule's team (usableCapsule and its memo work per team; the proxy is not a team's caller). */
  private async teamOf(capsuleId: string): Promise<string> {
    const known = this.teams.get(capsuleId);
    if (known) return known;
    const row = await this.ctx.db.selectFrom('capsules').select(['team_id']).where('id', '=', capsuleId).executeTakeFirst();
    if (!row) throw new WrennError('capsule_not_found', `capsule ${capsuleId} does not exist`, { capsuleId });
    this.teams.set(capsuleId, row.team_id);
    if (this.teams.size > MAX_REMEMBERED) this.teams.delete(this.teams.keys().next().value!);
    return row.team_id;
  }

  private async routeVia(capsuleId: string, host: CapsuleHost): Promise<ProxyRoute> {
    const proxyUrl = host.proxy_url ?? (await this.learnProxyUrl(host));
    return { capsuleId, hostId: host.id, proxyUrl, agentToken: host.agent_token! };
  }

  /**
   * A host registered without a proxy URL (an agent that did not send one, or inserted by
   * hand): its Health names the proxy port, beside the RPC address. Stored, so this is asked
   * once per host.
   */
  private learnProxyUrl(host: CapsuleHost): Promise<string> {
    let p = this.learnt.get(host.id);
    if (!p) {
      p = (async () => {
        const health = await this.ctx.agents.get(host.id, host.agent_url, host.agent_token).health({}, { timeoutMs: HEALTH_TIMEOUT_MS });
        if (!health.proxyPort) {
          throw new WrennError('bad_gateway', `the host agent of ${host.id} serves no proxy listener (an older agent?): upgrade it to reach capsule ports`, { hostId: host.id });
        }
        const url = new URL(host.agent_url!);
        url.port = String(health.proxyPort);
        const proxyUrl = url.origin;
        await this.ctx.db.updateTable('hosts').set({ proxy_url: proxyUrl }).where('id', '=', host.id).where('proxy_url', 'is', null).execute();
        this.ctx.usable.forget();
        return proxyUrl;
      })();
      this.learnt.set(host.id, p);
      // A failure is not remembered; a success only until the stored URL is read back.
      p.then(
        () => setTimeout(() => this.learnt.delete(host.id), 5_000).unref(),
        () => this.learnt.delete(host.id),
      );
    }
    return p;
  }
}

/**
 * Every reason a capsule cannot take proxied traffic, as the one answer proxies give: 502,
 * and the same words whether the capsule does not exist, belongs to someone else, is
 * stopped or paused: the proxy takes no credentials, so it tells nobody which ids exist.
 * A host that does not answer for a running capsule stays a bad_gateway of its own.
 */
export function unreachable(err: unknown, capsuleId: string): WrennError {
  const e = asWrennError(err);
  if (e.code === 'bad_gateway') return e;
  return new WrennError(
    'capsule_unreachable',
    `capsule ${capsuleId} takes no proxied traffic: it does not exist or is not running (a paused capsule created with auto_resume is resumed by traffic)`,
    { capsuleId },
    { cause: err },
  );
}
