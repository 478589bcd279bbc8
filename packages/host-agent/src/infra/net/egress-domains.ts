/**
 * Domain names in a capsule's egress allow list (E2B's `allowOut: ['example.com']`). The
 * firewall works on addresses, so the host resolves each name (A records) and allows what
 * it resolved to; a refresher (CapsuleManager.refreshEgressDomains) re-resolves while the
 * capsule lives. Addresses a name resolved to stay allowed for RETAIN_MS after they were
 * last seen: round-robin and CDN answers rotate, and the capsule's own resolver may hand
 * out an address the host saw a minute ago. Resolved addresses are only ever exceptions to
 * the capsule's own deny list: the host's deny set (private ranges...) still applies, so a
 * name resolving to 10.0.0.1 opens nothing the operator did not allow.
 *
 * Wildcards (`*.example.com`) cannot be resolved to a set of addresses and are refused;
 * so are names in deny lists (E2B does not support them either).
 */
import { Resolver } from 'node:dns/promises';
import { WrennError, type Logger } from '@wrenn/shared';
import { MAX_POLICY_CIDRS, normalizeIpv4Cidr } from './egress-policy.js';

/** What a caller asked a capsule may reach, as given (allowOut may hold names). */
export interface EgressRules {
  denyOut: string[];
  allowOut: string[];
}

/** How long an address a name resolved to stays allowed after it was last seen. */
export const RETAIN_MS = 10 * 60_000;
/** Most addresses kept per name (a name answering with ever new addresses stays bounded). */
const MAX_ADDRESSES_PER_NAME = 32;

const LABEL = '[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?';
const DOMAIN = new RegExp(`^(?=.{1,253}$)${LABEL}(?:\\.${LABEL})*\\.?$`, 'i');
const IPV4ISH = /^[\d./]+$/;

/** True for an entry that is a domain name (not an address or CIDR). */
export function isDomainEntry(entry: string): boolean {
  return !IPV4ISH.test(entry.trim()) && DOMAIN.test(entry.trim());
}

/**
 * The rules with addresses normalised and names lower-cased, or invalid_argument naming the
 * bad entry. Names only in allowOut, never wildcards.
 */
export function checkedEgressRules(rules: EgressRules): EgressRules {
  for (const [field, list] of [['deny_out', rules.denyOut], ['allow_out', rules.allowOut]] as const) {
    if (list.length > MAX_POLICY_CIDRS) throw new WrennError('invalid_argument', `${field} has ${list.length} entries: at most ${MAX_POLICY_CIDRS}`, { field });
  }
  const allowOut = rules.allowOut.map((entry) => {
    const e = entry.trim();
    if (e.startsWith('*')) {
      throw new WrennError('invalid_argument', `allow_out: "${entry}": wildcard domains are not supported (the host allows the addresses a name resolves to; list each name)`, { field: 'allow_out', value: entry });
    }
    return isDomainEntry(e) ? e.toLowerCase().replace(/\.$/, '') : normalizeIpv4Cidr(e, 'allow_out');
  });
  const denyOut = rules.denyOut.map((entry) => {
    if (isDomainEntry(entry)) throw new WrennError('invalid_argument', `deny_out: "${entry}": domain names are not supported in deny lists, only IPv4 addresses and CIDRs`, { field: 'deny_out', value: entry });
    return normalizeIpv4Cidr(entry, 'deny_out');
  });
  return { denyOut: [...new Set(denyOut)], allowOut: [...new Set(allowOut)] };
}

export function domainsOf(rules: Pick<EgressRules, 'allowOut'>): string[] {
  return rules.allowOut.filter(isDomainEntry);
}

export function cidrsOf(entries: readonly string[]): string[] {
  return entries.filter((e) => !isDomainEntry(e));
}

export interface EgressResolverOptions {
  logger: Logger;
  /** DNS servers to ask (`ip` or `ip:port`); empty: the host's (/etc/resolv.conf). */
  servers?: string[];
  /** Per-query timeout. */
  timeoutMs?: number;
}

/** Resolves allow-list names at the host, remembering recent answers (see RETAIN_MS). */
export class EgressResolver {
  private readonly resolver: Resolver;
  private readonly log: Logger;
  /** name → address → last seen (ms). */
  private readonly seen = new Map<string, Map<string, number>>();

  constructor(opts: EgressResolverOptions) {
    this.resolver = new Resolver({ timeout: opts.timeoutMs ?? 2000, tries: 2 });
    if (opts.servers?.length) this.resolver.setServers(opts.servers);
    this.log = opts.logger.child({ component: 'egress-dns' });
  }

  /**
   * Every address (as /32) the names resolve to now or did within RETAIN_MS, sorted. A name
   * that does not resolve contributes what it resolved to before, or nothing.
   */
  async resolve(names: readonly string[]): Promise<string[]> {
    const now = Date.now();
    await Promise.all(
      [...new Set(names)].map(async (name) => {
        let addresses: string[] = [];
        try {
          addresses = await this.resolver.resolve4(name);
        } catch (err) {
          this.log.warn({ name, err: (err as Error).message }, 'an egress allow-list name did not resolve');
        }
        const known = this.seen.get(name) ?? new Map<string, number>();
        for (const a of addresses) known.set(a, now);
        for (const [a, at] of known) if (now - at > RETAIN_MS) known.delete(a);
        while (known.size > MAX_ADDRESSES_PER_NAME) known.delete(oldest(known));
        this.seen.set(name, known);
      }),
    );
    const out = new Set<string>();
    for (const name of names) for (const a of this.seen.get(name)?.keys() ?? []) out.add(`${a}/32`);
    return [...out].sort();
  }

  /** Forgets names no capsule lists any more. */
  retainOnly(names: Iterable<string>): void {
    const keep = new Set(names);
    for (const name of this.seen.keys()) if (!keep.has(name)) this.seen.delete(name);
  }
}

function oldest(m: Map<string, number>): string {
  let key = '';
  let at = Infinity;
  for (const [k, v] of m) if (v < at) [key, at] = [k, v];
  return key;
}
