/**
 * Slot allocation for capsule networks. The pool's CIDR is cut into /30 point-to-point
 * links; slot i owns the i-th /30: `.1` is the host end, `.2` the capsule. Everything about a
 * slot (addresses, interface names) is a pure function of its index, so the agent persists
 * only the index and a restarted agent `reserve`s it again for a capsule it finds running.
 *
 * @example
 * const pool = new AddressPool({ cidr: '10.88.0.0/16' });
 * const slot = pool.allocate(); // { index: 0, hostIf: 'wr0h', hostIp: '10.88.0.1', guestIp: '10.88.0.2', ... }
 * pool.release(slot.index);
 */
import { WrennError } from '@wrenn/shared';
import type { NetworkSlot } from './network.js';
import { cidrContains, formatIpv4, parseIpv4, parseIpv4Cidr, type Ipv4Cidr } from './ipv4.js';
import { GUEST_IFNAME, hostIfName, validateIfPrefix } from './interface-names.js';

export const DEFAULT_POOL_CIDR = '10.88.0.0/16';
export const DEFAULT_IF_PREFIX = 'wr';

const LINK_PREFIX_LEN = 30;
const LINK_SIZE = 4;

export interface AddressPoolOptions {
  /** IPv4 block the links are cut from (default 10.88.0.0/16 → 16384 slots). At most /30. */
  cidr?: string;
  /** Prefix of host interface names, lowercase letters (default "wr" → wr0h, wr1h, ...). */
  ifPrefix?: string;
}

export class AddressPool {
  readonly cidr: string;
  readonly ifPrefix: string;
  /** Number of slots (capsules with a network) the pool can hold. */
  readonly capacity: number;
  private readonly block: Ipv4Cidr;
  private readonly used = new Set<number>();
  /** Where the next search starts: recently released slots are reused last (see allocate). */
  private cursor = 0;

  constructor(opts: AddressPoolOptions = {}) {
    this.cidr = opts.cidr ?? DEFAULT_POOL_CIDR;
    this.ifPrefix = opts.ifPrefix ?? DEFAULT_IF_PREFIX;
    this.block = parseIpv4Cidr(this.cidr);
    if (this.block.prefixLen > LINK_PREFIX_LEN) {
      throw new WrennError('invalid_argument', `address pool ${this.cidr} is smaller than one /30 link: use a block of /30 or larger`, {
        cidr: this.cidr,
      });
    }
    this.capacity = this.block.size / LINK_SIZE;
    validateIfPrefix(this.ifPrefix, this.capacity - 1);
  }

  /** The slot with this index (pure computation; does not allocate). */
  slot(index: number): NetworkSlot {
    this.checkIndex(index);
    const base = this.block.network + index * LINK_SIZE;
    return {
      index,
      hostIf: hostIfName(this.ifPrefix, index),
      guestIf: GUEST_IFNAME,
      hostIp: formatIpv4(base + 1),
      guestIp: formatIpv4(base + 2),
      prefixLen: LINK_PREFIX_LEN,
    };
  }

  /**
   * Takes the first free slot at or after the slot after the last one allocated (wrapping).
   * Deterministic for a given sequence of calls, and a just-released address is not handed
   * out again at once, so late packets and conntrack entries of a destroyed capsule do not
   * reach its successor.
   */
  allocate(): NetworkSlot {
    for (let n = 0; n < this.capacity; n++) {
      const index = (this.cursor + n) % this.capacity;
      if (!this.used.has(index)) return this.claim(index);
    }
    throw new WrennError(
      'host_at_capacity',
      `no free network slot: all ${this.capacity} addresses of pool ${this.cidr} are in use; destroy capsules or configure a larger pool`,
      { capacity: this.capacity, cidr: this.cidr },
    );
  }

  /** Claims a specific slot again (a capsule found running after an agent restart). */
  reserve(index: number): NetworkSlot {
    this.checkIndex(index);
    if (this.used.has(index)) {
      throw new WrennError('conflict', `network slot ${index} (${this.slot(index).guestIp}) is already in use by another capsule`, {
        index,
      });
    }
    return this.claim(index);
  }

  /** Frees a slot; releasing a free slot is a no-op. */
  release(index: number): void {
    this.used.delete(index);
  }

  isAllocated(index: number): boolean {
    return this.used.has(index);
  }

  get allocatedCount(): number {
    return this.used.size;
  }

  /** Slot index whose capsule address is `ip`, or undefined if `ip` is not a capsule address of this pool. */
  indexOfGuestIp(ip: string): number | undefined {
    const value = parseIpv4(ip);
    if (value === undefined || !cidrContains(this.block, value)) return undefined;
    const offset = value - this.block.network;
    return offset % LINK_SIZE === 2 ? (offset - 2) / LINK_SIZE : undefined;
  }

  private claim(index: number): NetworkSlot {
    this.used.add(index);
    this.cursor = (index + 1) % this.capacity;
    return this.slot(index);
  }

  private checkIndex(index: number): void {
    if (!Number.isInteger(index) || index < 0 || index >= this.capacity) {
      throw new WrennError('invalid_argument', `network slot ${index} is outside pool ${this.cidr} (valid: 0..${this.capacity - 1})`, {
        index,
      });
    }
  }
}
