/**
 * Owns the capsule networks of this host: plumbs a slot's veth into a capsule's netns by
 * PID (and again after every CRIU restore, which recreates the netns without the veth),
 * keeps the isolation rules in the agent's nftables table, shapes traffic, and removes all
 * of it on unplumb, on failure half-way, and for leftovers after an agent restart.
 *
 * Operations on one slot must be serialised by the caller (the agent serialises everything
 * per capsule, docs/decisions.md#h2); different slots are independent.
 *
 * @example
 * const net = await NetworkManager.open({ logger, pool }, signal);
 * const slot = pool.allocate();
 * await net.plumb(slot, containerPid, DEFAULT_PLUMB_OPTIONS, signal);
 * // ... after a restore: await net.replumb(slot, restoredPid, options, signal);
 * await net.unplumb(slot, signal);
 * pool.release(slot.index);
 */
import { readFile, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { DisposableStack, WrennError, isWrennError, type Logger } from '@wrenn/shared';
import type { NetworkSlot, PlumbOptions } from './network.js';
import type { AddressPool } from './address-pool.js';
import { NftRules, type NftDropCounters, type NftSlotElements } from './nft-rules.js';
import { checkedEgressPolicy, type EgressPolicy } from './egress-policy.js';
import { ownedIfIndex, shaperIfName } from './interface-names.js';
import {
  assertSeparateNetns,
  configureGuestSide,
  configureHostEnd,
  configureHostSysctls,
  createFromGuestSide,
  createHostSide,
  deleteHostLinks,
  hostLinkExists,
  listHostLinks,
} from './link-plumbing.js';
import { applyShaping, validateShaping } from './traffic-shaper.js';

export const DEFAULT_NFT_TABLE = 'wrenn';

export interface NetworkManagerOptions {
  logger: Logger;
  pool: AddressPool;
  /** nftables table (family inet) this manager owns (default "wrenn"). */
  nftTable?: string;
  /**
   * Set net.ipv4.ip_forward=1 at open (default true): NAT egress needs forwarding on the
   * uplink too. Off only where the host's forwarding is managed elsewhere (and in tests).
   */
  enableIpForwarding?: boolean;
  /** Destinations capsules never reach even with egress, besides the built-in ones (e.g. the control plane's network). */
  extraDeniedCidrs?: string[];
  /** Ranges of the built-in deny set (private networks...) every capsule with egress may reach (WRENN_EGRESS_ALLOW). */
  allowedCidrs?: string[];
  /** Deadline for undoing a half-done plumb; the undo runs even when the caller's signal aborted. */
  cleanupTimeoutMs?: number;
}

export interface LeftoverReport {
  /** Host interfaces deleted. */
  interfaces: string[];
  /** nftables set elements removed. */
  nftElements: number;
}

export class NetworkManager {
  private readonly log: Logger;
  private readonly pool: AddressPool;
  private readonly rules: NftRules;
  private readonly cleanupTimeoutMs: number;
  /** Slots plumbed (or being plumbed) through this instance: never leftovers. */
  private readonly active = new Set<number>();

  private constructor(opts: NetworkManagerOptions, rules: NftRules) {
    this.log = opts.logger.child({ component: 'network' });
    this.pool = opts.pool;
    this.rules = rules;
    this.cleanupTimeoutMs = opts.cleanupTimeoutMs ?? 30_000;
  }

  /** Creates (or refreshes, keeping running capsules' permissions) the nftables table. */
  static async open(opts: NetworkManagerOptions, signal?: AbortSignal): Promise<NetworkManager> {
    const rules = new NftRules({
      table: opts.nftTable ?? DEFAULT_NFT_TABLE,
      ifPrefix: opts.pool.ifPrefix,
      poolCidr: opts.pool.cidr,
      extraDeniedCidrs: opts.extraDeniedCidrs ?? [],
      allowedCidrs: opts.allowedCidrs ?? [],
    });
    const manager = new NetworkManager(opts, rules);
    await rules.ensureTable(signal);
    if (opts.enableIpForwarding ?? true) await manager.enableIpForwarding();
    manager.log.info({ table: rules.table, cidr: opts.pool.cidr, ifPrefix: opts.pool.ifPrefix }, 'capsule network ready');
    return manager;
  }

  get nftTable(): string {
    return this.rules.table;
  }

  /** Connects a freshly started capsule (its netns is that of `pid`) to the host. */
  async plumb(slot: NetworkSlot, pid: number, opts: PlumbOptions, signal?: AbortSignal): Promise<void> {
    await this.attach('plumb', slot, pid, opts, signal);
  }

  /**
   * Connects a restored capsule again with the same address and interface names (CRIU
   * recreates the netns but not the veth, and brings lo back down).
   */
  async replumb(slot: NetworkSlot, pid: number, opts: PlumbOptions, signal?: AbortSignal): Promise<void> {
    await this.attach('replumb', slot, pid, opts, signal);
  }

  /**
   * Connects a sandbox being restored, in two parts. `guestReady`: the veth made from inside
   * its netns with the guest end addressed and up (one process: CRIU's setup-namespaces
   * hook waits for it, and established connections need the address and route). `complete`:
   * the host end's sysctls, rules, address and shaping, while CRIU restores the processes.
   * Until its sysctls are written the host end stays down (no carrier, nothing flows), and
   * until its rules are added every packet from it is dropped (the chains match all capsule
   * interfaces from the moment they exist). On failure of either part, everything is undone.
   */
  plumbRestored(slot: NetworkSlot, pid: number, opts: PlumbOptions, signal?: AbortSignal): { guestReady: Promise<void>; complete: Promise<void> } {
    const started = performance.now();
    const shaperIf = this.shaperIf(slot);
    const shaping = opts.rateBytesPerSec > 0;
    const undo = async (err: unknown): Promise<never> => {
      this.active.delete(slot.index);
      await Promise.allSettled([
        deleteHostLinks([slot.hostIf, shaperIf], AbortSignal.timeout(this.cleanupTimeoutMs)),
        this.rules.removeSlot(slot, AbortSignal.timeout(this.cleanupTimeoutMs)),
      ]);
      throw this.describeFailure('restore plumbing', err, slot, pid);
    };
    const guestReady = (async () => {
      validateShaping(opts);
      if (signal?.aborted) throw new WrennError('canceled', `network plumbing of slot ${slot.index} was cancelled`);
      await assertSeparateNetns(pid);
      this.active.add(slot.index);
      const stale = [slot.hostIf, shaperIf].filter(hostLinkExists);
      if (stale.length > 0) await deleteHostLinks(stale, signal);
      await createFromGuestSide(slot, pid, process.pid, signal);
    })().catch(undo);
    const complete = guestReady.then(async () => {
      try {
        await configureHostSysctls(slot.hostIf, opts.egress);
        throwFirstRejection(
          await Promise.allSettled([configureHostEnd(slot, { ifName: shaperIf, create: shaping }, signal), this.rules.addSlot(slot, egressPolicyOf(opts), signal)]),
        );
        if (shaping) await applyShaping(slot.hostIf, shaperIf, opts, signal);
      } catch (err) {
        return undo(err);
      }
      this.log.info(
        { slot: slot.index, pid, guestIp: slot.guestIp, egress: opts.egress, durationMs: Math.round(performance.now() - started) },
        'network plumbed into a restored sandbox',
      );
    });
    // Observed by the caller; a rejection of `complete` after `guestReady` failed is the same error.
    complete.catch(() => {});
    return { guestReady, complete };
  }

  /**
   * Changes what a plumbed capsule may reach, at once (established connections included):
   * egress on or off (forwarding on its link too) and its deny / allow lists.
   */
  async setEgressPolicy(slot: NetworkSlot, policy: EgressPolicy, signal?: AbortSignal): Promise<void> {
    const checked = checkedEgressPolicy(policy);
    await this.rules.setPolicy(slot, checked, signal);
    await configureHostSysctls(slot.hostIf, checked.allowInternet);
    this.log.info({ slot: slot.index, guestIp: slot.guestIp, egress: checked.allowInternet, denyOut: checked.denyOut.length, allowOut: checked.allowOut.length }, 'egress policy set');
  }

  /** Removes the slot's interfaces (with their qdiscs) and rules. Idempotent. */
  async unplumb(slot: NetworkSlot, signal?: AbortSignal): Promise<void> {
    const started = performance.now();
    let linksMs = 0;
    let rulesMs = 0;
    const results = await Promise.allSettled([
      deleteHostLinks([slot.hostIf, this.shaperIf(slot)], signal).finally(() => (linksMs = Math.round(performance.now() - started))),
      this.rules.removeSlot(slot, signal).finally(() => (rulesMs = Math.round(performance.now() - started))),
    ]);
    throwFirstRejection(results);
    this.active.delete(slot.index);
    this.log.info({ slot: slot.index, linksMs, rulesMs, durationMs: Math.round(performance.now() - started) }, 'network unplumbed');
  }

  /**
   * Removes interfaces named like ours and rule elements whose slot is neither in
   * `knownSlots` (capsules the agent found running) nor plumbed through this instance.
   */
  async cleanupLeftovers(knownSlots: Iterable<number>, signal?: AbortSignal): Promise<LeftoverReport> {
    const keep = new Set([...knownSlots, ...this.active]);
    const prefix = this.pool.ifPrefix;
    const staleLinks = (await listHostLinks()).filter((name) => {
      const index = ownedIfIndex(prefix, name);
      return index !== undefined && !keep.has(index);
    });
    const elements = await this.rules.listSlotElements(signal);
    const stale: NftSlotElements = {
      sources: elements.sources.filter(({ ifName, ip }) => {
        const index = ownedIfIndex(prefix, ifName);
        return index === undefined || !keep.has(index) || this.pool.indexOfGuestIp(ip) !== index;
      }),
      egress: elements.egress.filter((ip) => {
        const index = this.pool.indexOfGuestIp(ip);
        return index === undefined || !keep.has(index);
      }),
      policies: (elements.policies ?? []).filter((index) => !keep.has(index)),
    };
    const guestIpOf = (index: number): string | undefined => (index < this.pool.capacity ? this.pool.slot(index).guestIp : undefined);
    const [interfaces] = await Promise.all([deleteHostLinks(staleLinks, signal), this.rules.removeElements(stale, signal, guestIpOf)]);
    const report = { interfaces, nftElements: stale.sources.length + stale.egress.length + (stale.policies?.length ?? 0) };
    if (report.interfaces.length > 0 || report.nftElements > 0) this.log.info(report, 'removed network leftovers');
    return report;
  }

  /** Packets and bytes dropped by each isolation rule since the table was created. */
  dropCounters(signal?: AbortSignal): Promise<NftDropCounters> {
    return this.rules.counters(signal);
  }

  /**
   * Tears down every network this manager's prefix owns and the nftables table. For host
   * decommissioning and tests; an agent restart keeps running capsules connected and uses
   * `cleanupLeftovers` instead.
   */
  async close(signal?: AbortSignal): Promise<void> {
    const owned = (await listHostLinks()).filter((name) => ownedIfIndex(this.pool.ifPrefix, name) !== undefined);
    const results = await Promise.allSettled([deleteHostLinks(owned, signal), this.rules.dropTable(signal)]);
    this.active.clear();
    throwFirstRejection(results);
    this.log.info({ table: this.rules.table, interfaces: owned.length }, 'capsule network torn down');
  }

  private async attach(kind: 'plumb' | 'replumb', slot: NetworkSlot, pid: number, opts: PlumbOptions, signal?: AbortSignal) {
    const started = performance.now();
    validateShaping(opts);
    if (signal?.aborted) throw new WrennError('canceled', `network ${kind} of slot ${slot.index} was cancelled`);
    await assertSeparateNetns(pid);
    const shaperIf = this.shaperIf(slot);
    const shaping = opts.rateBytesPerSec > 0;
    const undo = new DisposableStack();
    this.active.add(slot.index);
    try {
      // Registered before each step runs: a step can fail after creating something (an
      // `ip -batch` stops at its first error), and every undo is idempotent.
      undo.defer(() => deleteHostLinks([slot.hostIf, shaperIf], AbortSignal.timeout(this.cleanupTimeoutMs)));
      undo.defer(() => this.rules.removeSlot(slot, AbortSignal.timeout(this.cleanupTimeoutMs)));
      throwFirstRejection(
        await Promise.allSettled([
          createHostSide(slot, pid, { ifName: shaperIf, create: shaping }, signal),
          this.rules.addSlot(slot, egressPolicyOf(opts), signal),
        ]),
      );
      await configureHostSysctls(slot.hostIf, opts.egress);
      throwFirstRejection(
        await Promise.allSettled([
          configureGuestSide(slot, pid, signal),
          shaping ? applyShaping(slot.hostIf, shaperIf, opts, signal) : Promise.resolve(),
        ]),
      );
    } catch (err) {
      this.active.delete(slot.index);
      await undo.dispose().catch((cleanupErr: unknown) => {
        this.log.error({ err: cleanupErr, slot: slot.index }, `could not undo a failed ${kind}; cleanupLeftovers will retry`);
      });
      throw this.describeFailure(kind, err, slot, pid);
    }
    this.log.info(
      { slot: slot.index, pid, guestIp: slot.guestIp, egress: opts.egress, durationMs: Math.round(performance.now() - started) },
      `network ${kind}ed`,
    );
  }

  private describeFailure(kind: string, err: unknown, slot: NetworkSlot, pid: number): WrennError {
    if (isWrennError(err) && (err.code === 'canceled' || err.code === 'deadline_exceeded')) return err;
    if (!existsSync(`/proc/${pid}`)) {
      return new WrennError(
        'failed_precondition',
        `capsule process ${pid} exited during network ${kind} of slot ${slot.index}`,
        { pid, slot: slot.index },
        { cause: err },
      );
    }
    const message = err instanceof Error ? err.message : String(err);
    return new WrennError(
      isWrennError(err) ? err.code : 'internal',
      `network ${kind} of slot ${slot.index} (${slot.guestIp}) into capsule process ${pid} failed: ${message}`,
      { pid, slot: slot.index },
      { cause: err },
    );
  }

  private shaperIf(slot: NetworkSlot): string {
    return shaperIfName(this.pool.ifPrefix, slot.index);
  }

  private async enableIpForwarding(): Promise<void> {
    const path = '/proc/sys/net/ipv4/ip_forward';
    if ((await readFile(path, 'utf8')).trim() === '1') return;
    await writeFile(path, '1');
    this.log.info('enabled net.ipv4.ip_forward for capsule egress');
  }
}

/** The egress policy plumb options ask for, checked (invalid_argument names the bad entry). */
export function egressPolicyOf(opts: PlumbOptions): EgressPolicy {
  return checkedEgressPolicy({ allowInternet: opts.egress, denyOut: opts.denyOut ?? [], allowOut: opts.allowOut ?? [] });
}

function throwFirstRejection(results: PromiseSettledResult<unknown>[]): void {
  for (const r of results) if (r.status === 'rejected') throw r.reason;
}
