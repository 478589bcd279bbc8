/**
 * Capsule isolation in nftables: one table (`inet wrenn` by default) owned by the agent.
 * The chains are fixed and match every capsule interface with one wildcard (`wr*`), so an
 * interface is denied everything from the moment it exists; a capsule's permissions are
 * elements of sets, added and removed in one small `nft -f -` transaction per capsule, never
 * a table rebuild.
 *
 * What the rules enforce (capsule = traffic arriving on a `<prefix>*` interface):
 * - prerouting (before conntrack): only IPv4, and only from the capsule's own address on its
 *   own interface (capsule root can change its address; this stops spoofing another
 *   capsule's or an outside host's address to slip into someone's conntrack entry).
 * - input: nothing from a capsule reaches the host (its own link address, 127.0.0.0/8, other
 *   host addresses, any port) except replies on connections the host opened (the agent
 *   connects to envd at guestIp:49983).
 * - forward: capsule → capsule dropped; nobody opens a connection into a capsule through the
 *   host; capsule → outside only for addresses in `egress_sources`, never to
 *   `always_denied` (the pool, operator-configured ranges such as the control plane's
 *   network), and never to `denied_destinations` (every private, shared, loopback,
 *   link-local, multicast and reserved range, IPv4 and IPv6: see egress-policy.ts) unless
 *   the operator allowed it for all capsules (`allowed_destinations`); then the capsule's
 *   own policy, if it has one: its address maps (`capsule_policies`) to a chain `cap_<slot>`
 *   that returns for its allowed destinations and drops its denied ones.
 * - postrouting: masquerade what leaves for the outside from an egress capsule.
 * No DNAT from 127.0.0.1 is used, so `route_localnet` stays off on capsule interfaces.
 * Drops count into named counters (see NftDropCounters) for diagnosis and metrics.
 */
import { WrennError } from '@wrenn/shared';
import { run } from '../exec.js';
import type { NetworkSlot } from './network.js';
import { parseIpv4Cidr } from './ipv4.js';
import { DENIED_IPV4, DENIED_IPV6, OPEN_EGRESS, type EgressPolicy } from './egress-policy.js';

/** Destinations a capsule reaches only where the operator allows them (the pool never). */
export const BUILTIN_DENIED_CIDRS: readonly string[] = DENIED_IPV4;

export const DROP_COUNTERS = [
  'spoofed_dropped',
  'to_host_dropped',
  'cross_capsule_dropped',
  'inbound_dropped',
  'denied_destination_dropped',
  'no_egress_dropped',
  'capsule_policy_dropped',
] as const;
export type NftDropCounters = Record<(typeof DROP_COUNTERS)[number], { packets: number; bytes: number }>;

export interface NftRulesOptions {
  table: string;
  ifPrefix: string;
  poolCidr: string;
  extraDeniedCidrs: readonly string[];
  /** Ranges of the built-in deny set every capsule with egress may reach (WRENN_EGRESS_ALLOW). */
  allowedCidrs?: readonly string[];
}

export interface NftSlotElements {
  /** `capsule_sources` elements: host interface and the one source address allowed on it. */
  sources: Array<{ ifName: string; ip: string }>;
  /** `egress_sources` elements: capsule addresses allowed out through NAT. */
  egress: string[];
  /** Slots with a policy chain (`cap_<slot>`), found by listing (leftovers only). */
  policies?: number[];
}

const POLICY_CHAIN = /^cap_(\d+)$/;

export class NftRules {
  private readonly t: string;

  constructor(private readonly opts: NftRulesOptions) {
    if (!/^[a-z][a-z0-9_]{0,31}$/.test(opts.table)) {
      throw new WrennError('invalid_argument', `nftables table name "${opts.table}" must be lowercase letters, digits and _`, {
        table: opts.table,
      });
    }
    for (const cidr of [opts.poolCidr, ...opts.extraDeniedCidrs, ...(opts.allowedCidrs ?? [])]) parseIpv4Cidr(cidr);
    this.t = `inet ${opts.table}`;
  }

  get table(): string {
    return this.opts.table;
  }

  /**
   * Creates the table or refreshes its chains in one atomic transaction; set elements (the
   * running capsules' permissions) are kept, so this is safe while capsules run.
   */
  async ensureTable(signal?: AbortSignal): Promise<void> {
    await this.nft(this.tableScript(), signal);
  }

  async addSlot(slot: NetworkSlot, policy: EgressPolicy = OPEN_EGRESS, signal?: AbortSignal): Promise<void> {
    const lines = [`add element ${this.t} capsule_sources { ${sourceElement(slot.hostIf, slot.guestIp)} }`, ...this.policyLines(slot, policy)];
    await this.nft(lines.join('\n'), signal);
  }

  /** Replaces a plumbed capsule's egress permissions in one transaction (connections included). */
  async setPolicy(slot: NetworkSlot, policy: EgressPolicy, signal?: AbortSignal): Promise<void> {
    await this.nft(this.policyLines(slot, policy).join('\n'), signal);
  }

  async removeSlot(slot: NetworkSlot, signal?: AbortSignal): Promise<void> {
    await this.removeElements({ sources: [{ ifName: slot.hostIf, ip: slot.guestIp }], egress: [slot.guestIp], policies: [slot.index] }, signal, (index) => (index === slot.index ? slot.guestIp : undefined));
  }

  /**
   * Removes the elements (and policy chains: `guestIpOf` maps a slot to the address its map
   * element is keyed by). Idempotent: every delete is preceded by an add of the same thing.
   */
  async removeElements(elements: NftSlotElements, signal?: AbortSignal, guestIpOf?: (index: number) => string | undefined): Promise<void> {
    const lines: string[] = [];
    for (const { ifName, ip } of elements.sources) {
      const el = sourceElement(ifName, ip);
      lines.push(`add element ${this.t} capsule_sources { ${el} }`, `delete element ${this.t} capsule_sources { ${el} }`);
    }
    for (const ip of elements.egress) {
      lines.push(`add element ${this.t} egress_sources { ${ip} }`, `delete element ${this.t} egress_sources { ${ip} }`);
    }
    for (const index of elements.policies ?? []) {
      const ip = guestIpOf?.(index);
      if (ip) lines.push(...this.dropPolicyLines(index, ip));
      else lines.push(`add chain ${this.t} cap_${index}`, `delete chain ${this.t} cap_${index}`);
    }
    if (lines.length === 0) return;
    const result = await run('nft', ['-f', '-'], { input: lines.join('\n') + '\n', signal, allowFailure: true });
    if (result.code === 0) return;
    // Nothing to remove when the table itself is gone (closed, or flushed by an admin).
    if (!(await this.tableExists(signal))) return;
    throw nftError('removing capsule elements', result.stderr);
  }

  /**
   * The capsule's egress as nft commands: its address in `egress_sources` or not, and its
   * policy chain and map element (or none when it denies nothing).
   */
  private policyLines(slot: NetworkSlot, policy: EgressPolicy): string[] {
    const t = this.t;
    const ip = slot.guestIp;
    const chain = `cap_${slot.index}`;
    // `delete` of a missing element fails the transaction (nft 1.0.6 has no `destroy`), so
    // every delete is preceded by an add of the same element: idempotent either way.
    const lines = [`add element ${t} egress_sources { ${ip} }`];
    if (!policy.allowInternet) lines.push(`delete element ${t} egress_sources { ${ip} }`);
    const deny = outermost(policy.denyOut);
    if (!policy.allowInternet || deny.length === 0) return [...lines, ...this.dropPolicyLines(slot.index, ip)];
    lines.push(`add chain ${t} ${chain}`, `flush chain ${t} ${chain}`);
    const allow = outermost(policy.allowOut);
    if (allow.length > 0) lines.push(`add rule ${t} ${chain} ip daddr { ${allow.join(', ')} } return`);
    lines.push(`add rule ${t} ${chain} ip daddr { ${deny.join(', ')} } counter name capsule_policy_dropped drop`);
    lines.push(`add element ${t} capsule_policies { ${ip} : jump ${chain} }`);
    return lines;
  }

  private dropPolicyLines(index: number, ip: string): string[] {
    const t = this.t;
    const chain = `cap_${index}`;
    return [
      `add chain ${t} ${chain}`,
      `add element ${t} capsule_policies { ${ip} : jump ${chain} }`,
      `delete element ${t} capsule_policies { ${ip} }`,
      `delete chain ${t} ${chain}`,
    ];
  }

  async listSlotElements(signal?: AbortSignal): Promise<NftSlotElements> {
    const [sources, egress, policies] = await Promise.all([this.listSet('capsule_sources', signal), this.listSet('egress_sources', signal), this.listPolicyChains(signal)]);
    return {
      sources: sources.flatMap((e) => {
        const parts = (e as { concat?: unknown }).concat;
        return Array.isArray(parts) && typeof parts[0] === 'string' && typeof parts[1] === 'string'
          ? [{ ifName: parts[0], ip: parts[1] }]
          : [];
      }),
      egress: egress.filter((e): e is string => typeof e === 'string'),
      policies,
    };
  }

  private async listPolicyChains(signal?: AbortSignal): Promise<number[]> {
    const r = await run('nft', ['-j', 'list', 'table', 'inet', this.opts.table], { signal, allowFailure: true });
    if (r.code !== 0) return [];
    return parseNftJson(r.stdout).flatMap((item) => {
      const m = POLICY_CHAIN.exec((item as { chain?: { name?: string } }).chain?.name ?? '');
      return m ? [Number(m[1])] : [];
    });
  }

  async counters(signal?: AbortSignal): Promise<NftDropCounters> {
    const { stdout } = await run('nft', ['-j', 'list', 'counters', 'table', 'inet', this.opts.table], { signal });
    const out = {} as NftDropCounters;
    for (const name of DROP_COUNTERS) out[name] = { packets: 0, bytes: 0 };
    for (const item of parseNftJson(stdout)) {
      const c = (item as { counter?: { name?: string; packets?: number; bytes?: number } }).counter;
      if (c?.name && c.name in out) out[c.name as keyof NftDropCounters] = { packets: c.packets ?? 0, bytes: c.bytes ?? 0 };
    }
    return out;
  }

  async tableExists(signal?: AbortSignal): Promise<boolean> {
    const r = await run('nft', ['list', 'table', 'inet', this.opts.table], { signal, allowFailure: true });
    return r.code === 0;
  }

  /** Deletes the whole table (idempotent). */
  async dropTable(signal?: AbortSignal): Promise<void> {
    await this.nft(`add table ${this.t}\ndelete table ${this.t}`, signal);
  }

  private tableScript(): string {
    const t = this.t;
    const any = `"${this.opts.ifPrefix}*"`;
    const always = outermost([this.opts.poolCidr, ...this.opts.extraDeniedCidrs]).join(', ');
    const allowed = outermost([...(this.opts.allowedCidrs ?? [])]);
    const chain = (name: string, spec: string, rules: string[]) => [
      `add chain ${t} ${name} { ${spec}; policy accept; }`,
      `flush chain ${t} ${name}`,
      ...rules.map((r) => `add rule ${t} ${name} ${r}`),
    ];
    return [
      `add table ${t}`,
      ...DROP_COUNTERS.map((c) => `add counter ${t} ${c}`),
      `add set ${t} capsule_sources { type ifname . ipv4_addr; }`,
      `add set ${t} egress_sources { type ipv4_addr; }`,
      `add set ${t} always_denied { type ipv4_addr; flags interval; auto-merge; }`,
      `flush set ${t} always_denied`,
      `add element ${t} always_denied { ${always} }`,
      `add set ${t} denied_destinations { type ipv4_addr; flags interval; auto-merge; }`,
      `flush set ${t} denied_destinations`,
      `add element ${t} denied_destinations { ${DENIED_IPV4.join(', ')} }`,
      `add set ${t} denied_destinations6 { type ipv6_addr; flags interval; auto-merge; }`,
      `flush set ${t} denied_destinations6`,
      `add element ${t} denied_destinations6 { ${DENIED_IPV6.join(', ')} }`,
      `add set ${t} allowed_destinations { type ipv4_addr; flags interval; auto-merge; }`,
      `flush set ${t} allowed_destinations`,
      ...(allowed.length > 0 ? [`add element ${t} allowed_destinations { ${allowed.join(', ')} }`] : []),
      `add map ${t} capsule_policies { type ipv4_addr : verdict; }`,
      ...chain('prerouting', 'type filter hook prerouting priority raw', [
        `iifname ${any} meta nfproto != ipv4 counter name spoofed_dropped drop`,
        `iifname ${any} iifname . ip saddr != @capsule_sources counter name spoofed_dropped drop`,
      ]),
      ...chain('input', 'type filter hook input priority filter', [
        `iifname ${any} ct state established,related accept`,
        `iifname ${any} counter name to_host_dropped drop`,
      ]),
      ...chain('forward', 'type filter hook forward priority filter', [
        `iifname ${any} oifname ${any} counter name cross_capsule_dropped drop`,
        `oifname ${any} ct state established,related accept`,
        `oifname ${any} counter name inbound_dropped drop`,
        `iifname ${any} ip daddr @always_denied counter name denied_destination_dropped drop`,
        `iifname ${any} ip daddr @denied_destinations ip daddr != @allowed_destinations counter name denied_destination_dropped drop`,
        `iifname ${any} ip6 daddr @denied_destinations6 counter name denied_destination_dropped drop`,
        `iifname ${any} ip saddr vmap @capsule_policies`,
        `iifname ${any} ip saddr @egress_sources accept`,
        `iifname ${any} counter name no_egress_dropped drop`,
      ]),
      ...chain('postrouting', 'type nat hook postrouting priority srcnat', [
        `oifname != ${any} ip saddr @egress_sources masquerade`,
      ]),
    ].join('\n');
  }

  private async listSet(name: string, signal?: AbortSignal): Promise<unknown[]> {
    const r = await run('nft', ['-j', 'list', 'set', 'inet', this.opts.table, name], { signal, allowFailure: true });
    if (r.code !== 0) {
      if (!(await this.tableExists(signal))) return [];
      throw nftError(`listing set ${name}`, r.stderr);
    }
    for (const item of parseNftJson(r.stdout)) {
      const set = (item as { set?: { elem?: unknown[] } }).set;
      if (set) return set.elem ?? [];
    }
    return [];
  }

  private async nft(script: string, signal?: AbortSignal): Promise<void> {
    const r = await run('nft', ['-f', '-'], { input: script + '\n', signal, allowFailure: true });
    if (r.code !== 0) throw nftError(`applying rules to table ${this.t}`, r.stderr);
  }
}

/** CIDRs (normalised, so two either nest or are disjoint) without those inside another. */
export function outermost(cidrs: readonly string[]): string[] {
  const parsed = [...new Set(cidrs)].map((c) => ({ c, ...parseIpv4Cidr(c) }));
  return parsed.filter((a) => !parsed.some((b) => b !== a && b.prefixLen <= a.prefixLen && a.network >= b.network && a.network < b.network + b.size && !(b.prefixLen === a.prefixLen && b.c === a.c))).map((a) => a.c);
}

function sourceElement(ifName: string, ip: string): string {
  return `"${ifName}" . ${ip}`;
}

function parseNftJson(stdout: string): unknown[] {
  const parsed = JSON.parse(stdout) as { nftables?: unknown[] };
  return parsed.nftables ?? [];
}

function nftError(what: string, stderr: string): WrennError {
  const detail = stderr.trim().split('\n').slice(0, 6).join('\n');
  return new WrennError('internal', `nft failed ${what}${detail ? `: ${detail}` : ''}`, { tool: 'nft' });
}
