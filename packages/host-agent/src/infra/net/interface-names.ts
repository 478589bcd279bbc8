/**
 * Names of the host-side interfaces of a slot. Everything the agent creates on the host is
 * named `<prefix><index><role>` so that a restarted agent (or `cleanupLeftovers`) can tell
 * its own interfaces from anyone else's and map them back to a slot, and so that nftables
 * can match all capsule interfaces with one wildcard (`<prefix>*`).
 */
import { WrennError } from '@wrenn/shared';

/** Linux IFNAMSIZ minus the terminating NUL. */
export const MAX_IFNAME_LENGTH = 15;

/** The name of the network interface inside every capsule. */
export const GUEST_IFNAME = 'eth0';

/** Host end of the capsule's veth pair. */
export function hostIfName(prefix: string, index: number): string {
  return `${prefix}${index}h`;
}

/** IFB device that carries the capsule's upload through a shaper (see traffic-shaper.ts). */
export function shaperIfName(prefix: string, index: number): string {
  return `${prefix}${index}i`;
}

/** Slot index of an interface this prefix owns, or undefined for anyone else's interface. */
export function ownedIfIndex(prefix: string, name: string): number | undefined {
  if (!name.startsWith(prefix)) return undefined;
  const m = /^(0|[1-9]\d*)[hi]$/.exec(name.slice(prefix.length));
  return m ? Number(m[1]) : undefined;
}

/**
 * A prefix must be lowercase letters only: a trailing digit would make `wr1` + `2h` and
 * `wr` + `12h` the same name, and nftables' wildcard match is a plain prefix match.
 */
export function validateIfPrefix(prefix: string, maxIndex: number): void {
  if (!/^[a-z]{1,8}$/.test(prefix)) {
    throw new WrennError('invalid_argument', `interface prefix "${prefix}" must be 1-8 lowercase letters`, { prefix });
  }
  const longest = hostIfName(prefix, maxIndex);
  if (longest.length > MAX_IFNAME_LENGTH) {
    throw new WrennError(
      'invalid_argument',
      `interface prefix "${prefix}" is too long for ${maxIndex + 1} slots ("${longest}" exceeds ${MAX_IFNAME_LENGTH} characters): use a shorter prefix or a smaller pool`,
      { prefix },
    );
  }
}
