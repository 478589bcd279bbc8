/**
 * The per-capsule network: a netns created by the runtime (so it survives CRIU restore),
 * a veth pair plumbed into it by PID, an address from a pool, isolation rules, optional
 * NAT egress, and a rate limit. The slot (index → addresses, interface names) is stable so
 * a restored capsule gets the same address.
 */

export interface NetworkSlot {
  /** Small integer, unique among live capsules on this host; determines every name and address. */
  index: number;
  /** Host-side veth interface name (≤ 15 chars). */
  hostIf: string;
  /** Interface name inside the capsule. */
  guestIf: string;
  /** Host side address of the point-to-point link. */
  hostIp: string;
  /** The capsule's address. */
  guestIp: string;
  /** Prefix length of the link (e.g. 30). */
  prefixLen: number;
}

export interface PlumbOptions {
  /** Outbound traffic through NAT at all (`allow_internet_access`); tests reach only their own namespaces. */
  egress: boolean;
  /** IPv4 CIDRs this capsule may not reach (on top of the host's deny set); see egress-policy.ts. */
  denyOut?: string[];
  /** Exceptions to `denyOut` (never to the host's deny set). */
  allowOut?: string[];
  /** Sustained rate limit in bytes/s, each direction (docs/decisions.md#h10); 0 = unlimited. */
  rateBytesPerSec: number;
  /** Bytes that may pass at full speed before the rate applies. */
  burstBytes: number;
}

/** docs/decisions.md#h10 defaults: 200 MB/s sustained, 100 MB burst, egress on. */
export const DEFAULT_PLUMB_OPTIONS: Readonly<PlumbOptions> = Object.freeze({
  egress: true,
  rateBytesPerSec: 200_000_000,
  burstBytes: 100_000_000,
});
