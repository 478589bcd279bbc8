/**
 * What a capsule may reach outside the host. Everything private, shared, loopback,
 * link-local, multicast or otherwise reserved is denied to every capsule, IPv4 and IPv6
 * alike (capsules are IPv4-only, the IPv6 set is defence in depth), unless the operator
 * allows a range for all capsules (WRENN_EGRESS_ALLOW, e.g. a private DNS resolver or a
 * package mirror). Per capsule: no egress at all, or a deny list with allow exceptions
 * (E2B's `allow_out` / `deny_out`: an allowed destination wins over a denied one), which
 * only ever narrows what the host permits.
 */
import { WrennError } from '@wrenn/shared';
import { formatIpv4, parseIpv4, parseIpv4Cidr } from './ipv4.js';

/** IPv4 special-purpose ranges (RFC 6890 and successors): never the public internet. */
export const DENIED_IPV4 = [
  '0.0.0.0/8', // "this network"
  '10.0.0.0/8', // private
  '100.64.0.0/10', // shared address space (carrier-grade NAT, Tailscale)
  '127.0.0.0/8', // loopback
  '169.254.0.0/16', // link-local, cloud metadata
  '172.16.0.0/12', // private
  '192.0.0.0/24', // IETF protocol assignments
  '192.0.2.0/24', // documentation
  '192.88.99.0/24', // 6to4 relay anycast
  '192.168.0.0/16', // private
  '198.18.0.0/15', // benchmarking
  '198.51.100.0/24', // documentation
  '203.0.113.0/24', // documentation
  '224.0.0.0/4', // multicast
  '240.0.0.0/4', // reserved, broadcast
] as const;

/** IPv6 ranges that are not the public internet, or that tunnel into IPv4 ranges above. */
export const DENIED_IPV6 = [
  '::/127', // unspecified, loopback
  '::ffff:0:0/96', // IPv4-mapped
  '64:ff9b::/96', // NAT64 (would reach IPv4 private ranges through a translator)
  '64:ff9b:1::/48', // local-use NAT64
  '100::/64', // discard
  '2001::/23', // IETF protocol assignments (Teredo included)
  '2001:db8::/32', // documentation
  '2002::/16', // 6to4 (embeds any IPv4 address)
  'fc00::/7', // unique local (ULA)
  'fe80::/10', // link-local
  'ff00::/8', // multicast
] as const;

export interface EgressPolicy {
  /** false: nothing leaves the capsule (no NAT, no forwarding). */
  allowInternet: boolean;
  /** IPv4 CIDRs or addresses the capsule may not reach (`0.0.0.0/0` + allowOut = only those). */
  denyOut: string[];
  /** Exceptions to `denyOut`; never to the host's own deny set. */
  allowOut: string[];
}

export const OPEN_EGRESS: Readonly<EgressPolicy> = Object.freeze({ allowInternet: true, denyOut: [], allowOut: [] });

/** Most CIDRs per list of one capsule (each is one nft element). */
export const MAX_POLICY_CIDRS = 256;

/**
 * `a.b.c.d` → `a.b.c.d/32`; a CIDR is checked (no host bits). Throws invalid_argument
 * naming `field` for anything else.
 */
export function normalizeIpv4Cidr(text: string, field: string): string {
  const t = text.trim();
  if (parseIpv4(t) !== undefined) return `${t}/32`;
  try {
    const c = parseIpv4Cidr(t);
    return `${formatIpv4(c.network)}/${c.prefixLen}`;
  } catch {
    throw new WrennError('invalid_argument', `${field}: "${text}" is not an IPv4 address or CIDR block (e.g. 203.0.113.7 or 198.51.100.0/24) with no host bits set`, { field, value: text });
  }
}

/** The policy with every CIDR normalised and checked, or invalid_argument. */
export function checkedEgressPolicy(p: EgressPolicy): EgressPolicy {
  for (const [field, list] of [['deny_out', p.denyOut], ['allow_out', p.allowOut]] as const) {
    if (list.length > MAX_POLICY_CIDRS) throw new WrennError('invalid_argument', `${field} has ${list.length} entries: at most ${MAX_POLICY_CIDRS}`, { field });
  }
  return {
    allowInternet: p.allowInternet,
    denyOut: [...new Set(p.denyOut.map((c) => normalizeIpv4Cidr(c, 'deny_out')))],
    allowOut: [...new Set(p.allowOut.map((c) => normalizeIpv4Cidr(c, 'allow_out')))],
  };
}

/** WRENN_EGRESS_ALLOW: comma-separated IPv4 CIDRs or addresses; empty = none. */
export function parseEgressAllow(raw: string | undefined): string[] {
  if (!raw?.trim()) return [];
  return raw
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((c) => normalizeIpv4Cidr(c, 'WRENN_EGRESS_ALLOW'));
}
