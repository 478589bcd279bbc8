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
 *   host; capsule → outside only for addresses in `egress_sources` and never to
 *   `denied_destinations` (loopback, link-local incl. cloud metadata, multicast, the pool,
 *   operator-configured ranges such as the control plane's network).
 * - postrouting: masquerade what leaves for the outside from an egress capsule.
 * No DNAT from 127.0.0.1 is used, so `route_localnet` stays off on capsule interfaces.
 * Drops count into named counters (see NftDropCounters) for diagnosis and metrics.
 */
import { WrennError } from '@wrenn/shared';
import { run } from '../exec.js';
import type { NetworkSlot } from './network.js';
import { parseIpv4Cidr } from './ipv4.js';

/** Destinations a capsule never reaches even with egress (the pool is added per manager). */
export const BUILTIN_DENIED_CIDRS = ['0.0.0.0/8', '127.0.0.0/8', '169.254.0.0/16', '224.0.0.0/4', '240.0.0.0/4'];

export const DROP_COUNTERS = [
  'spoofed_dropped',
  'to_host_dropped',
  'cross_capsule_dropped',
  'inbound_dropped',
  'denied_destination_dropped',
  'no_egress_dropped',
] as const;
export type NftDropCounters = Record<(typeof DROP_COUNTERS)[number], { packets: number; bytes: number }>;

export interface NftRulesOptions {
  table: string;
  ifPrefix: string;
  poolCidr: string;
  extraDeniedCidrs: readonly string[];
}

export interface NftSlotElements {
  /** `capsule_sources` elements: host interface and the one source address allowed on it. */
  sources: Array<{ ifName: string; ip: string }>;
  /** `egress_sources` elements: capsule addresses allowed out through NAT. */
  egress: string[];
}

export class NftRules {
  private readonly t: string;

  constructor(private readonly opts: NftRulesOptions) {
    if (!/^[a-z][a-z0-9_]{0,31}$/.test(opts.table)) {
      throw new WrennError('invalid_argument', `nftables table name "${opts.table}" must be lowercase letters, digits and _`, {
        table: opts.table,
      });
    }
    for (const cidr of [opts.poolCidr, ...opts.extraDeniedCidrs]) parseIpv4Cidr(cidr);
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

  async addSlot(slot: NetworkSlot, egress: boolean, signal?: AbortSignal): Promise<void> {
    const lines = [`add element ${this.t} capsule_sources { ${sourceElement(slot.hostIf, slot.guestIp)} }`];
    lines.push(`add element ${this.t} egress_sources { ${slot.guestIp} }`);
    // `delete` of a missing element fails the transaction (nft 1.0.6 has no `destroy`), so
    // every delete is preceded by an add of the same element: idempotent either way.
    if (!egress) lines.push(`delete element ${this.t} egress_sources { ${slot.guestIp} }`);
    await this.nft(lines.join('\n'), signal);
  }

  async removeSlot(slot: { hostIf: string; guestIp: string }, signal?: AbortSignal): Promise<void> {
    await this.removeElements({ sources: [{ ifName: slot.hostIf, ip: slot.guestIp }], egress: [slot.guestIp] }, signal);
  }

  async removeElements(elements: NftSlotElements, signal?: AbortSignal): Promise<void> {
    const lines: string[] = [];
    for (const { ifName, ip } of elements.sources) {
      const el = sourceElement(ifName, ip);
      lines.push(`add element ${this.t} capsule_sources { ${el} }`, `delete element ${this.t} capsule_sources { ${el} }`);
    }
    for (const ip of elements.egress) {
      lines.push(`add element ${this.t} egress_sources { ${ip} }`, `delete element ${this.t} egress_sources { ${ip} }`);
    }
    if (lines.length === 0) return;
    const result = await run('nft', ['-f', '-'], { input: lines.join('\n') + '\n', signal, allowFailure: true });
    if (result.code === 0) return;
    // Nothing to remove when the table itself is gone (closed, or flushed by an admin).
    if (!(await this.tableExists(signal))) return;
    throw nftError('removing capsule elements', result.stderr);
  }

  async listSlotElements(signal?: AbortSignal): Promise<NftSlotElements> {
    const [sources, egress] = await Promise.all([this.listSet('capsule_sources', signal), this.listSet('egress_sources', signal)]);
    return {
      sources: sources.flatMap((e) => {
        const parts = (e as { concat?: unknown }).concat;
        return Array.isArray(parts) && typeof parts[0] === 'string' && typeof parts[1] === 'string'
          ? [{ ifName: parts[0], ip: parts[1] }]
          : [];
      }),
      egress: egress.filter((e): e is string => typeof e === 'string'),
    };
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
    const denied = [...BUILTIN_DENIED_CIDRS, this.opts.poolCidr, ...this.opts.extraDeniedCidrs].join(', ');
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
      `add set ${t} denied_destinations { type ipv4_addr; flags interval; auto-merge; }`,
      `flush set ${t} denied_destinations`,
      `add element ${t} denied_destinations { ${denied} }`,
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
        `iifname ${any} ip daddr @denied_destinations counter name denied_destination_dropped drop`,
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
