/**
 * The veth link between the host and a capsule's network namespace, addressed by the PID
 * of a process inside it (the runtime creates the netns inside the capsule's user namespace,
 * so it has no name in /run/netns). Each side is configured by one `ip -batch -` process,
 * because every `ip` process costs a few to 30 ms.
 */
import { stat, readdir, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { WrennError } from '@wrenn/shared';
import { run } from '../exec.js';
import type { NetworkSlot } from './network.js';

/** Host-side interface names, from the host's sysfs (cheaper than an `ip` process). */
export async function listHostLinks(): Promise<string[]> {
  return readdir('/sys/class/net');
}

export function hostLinkExists(name: string): boolean {
  return existsSync(`/sys/class/net/${name}`);
}

/**
 * Fails unless `pid` runs in a network namespace of its own: plumbing "into" the host's
 * namespace would create a second eth0 on the host.
 */
export async function assertSeparateNetns(pid: number): Promise<void> {
  if (!Number.isInteger(pid) || pid <= 1) {
    throw new WrennError('invalid_argument', `capsule pid ${pid} is not a valid process id`, { pid });
  }
  const [own, theirs] = await Promise.all([
    stat('/proc/self/ns/net'),
    stat(`/proc/${pid}/ns/net`).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') {
        throw new WrennError('failed_precondition', `capsule process ${pid} does not exist (exited before its network was plumbed)`, {
          pid,
        });
      }
      throw err;
    }),
  ]);
  if (own.ino === theirs.ino && own.dev === theirs.dev) {
    throw new WrennError('failed_precondition', `process ${pid} shares the host's network namespace: the capsule needs a netns of its own`, {
      pid,
    });
  }
}

/**
 * Creates the veth pair with its guest end directly inside the capsule's netns under its
 * final name (no rename step), addresses and raises the host end, and creates the IFB
 * device for upload shaping. Stale interfaces of the same slot are deleted first (the IFB
 * outlives the capsule's netns; the veth dies with it), so this is also the re-plumb after a
 * CRIU restore.
 */
export async function createHostSide(
  slot: NetworkSlot,
  pid: number,
  shaper: { ifName: string; create: boolean },
  signal?: AbortSignal,
): Promise<void> {
  // Separate (tolerant) step: a stale veth can vanish at any moment while the kernel
  // finishes destroying the old netns, which would fail a `link del` inside the batch.
  const stale = [slot.hostIf, shaper.ifName].filter(hostLinkExists);
  if (stale.length > 0) await deleteHostLinks(stale, signal);
  const lines = [
    `link add ${slot.hostIf} type veth peer name ${slot.guestIf} netns ${pid}`,
    `addr add ${slot.hostIp}/${slot.prefixLen} dev ${slot.hostIf}`,
    `link set dev ${slot.hostIf} up`,
  ];
  if (shaper.create) lines.push(`link add ${shaper.ifName} type ifb`, `link set dev ${shaper.ifName} up`);
  await run('ip', ['-batch', '-'], { input: lines.join('\n') + '\n', signal });
}

/**
 * Per-interface kernel settings of the host end, written before the guest end comes up
 * (until then the link has no carrier, so nothing flows unprotected):
 * - rp_filter=1 (strict): a packet is accepted only if the route back to its source leaves
 *   through the same interface, a second anti-spoofing layer beside nftables;
 * - arp_ignore=1: answer ARP only for the link's own address, so a capsule cannot map the
 *   host's other addresses;
 * - forwarding: only for egress capsules (nftables is the real gate: a later global
 *   `ip_forward=1` resets this on every interface);
 * - disable_ipv6: capsules are IPv4 only; no link-local address on the host end.
 * route_localnet stays 0: nothing DNATs from 127.0.0.1 into a capsule.
 */
export async function configureHostSysctls(hostIf: string, egress: boolean): Promise<void> {
  const v4 = `/proc/sys/net/ipv4/conf/${hostIf}`;
  await Promise.all([
    writeFile(`${v4}/rp_filter`, '1'),
    writeFile(`${v4}/arp_ignore`, '1'),
    writeFile(`${v4}/forwarding`, egress ? '1' : '0'),
    writeFile(`/proc/sys/net/ipv6/conf/${hostIf}/disable_ipv6`, '1').catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT') throw err; // kernel booted without IPv6
    }),
  ]);
}

/** Inside the capsule: address and raise eth0, raise lo, default route via the host end. */
export async function configureGuestSide(slot: NetworkSlot, pid: number, signal?: AbortSignal): Promise<void> {
  const lines = [
    `link set dev lo up`,
    `addr replace ${slot.guestIp}/${slot.prefixLen} dev ${slot.guestIf}`,
    `link set dev ${slot.guestIf} up`,
    // onlink: the gateway is valid before the kernel has the link's prefix route.
    `route replace default via ${slot.hostIp} dev ${slot.guestIf} onlink`,
  ];
  await run('nsenter', [`--net=/proc/${pid}/ns/net`, 'ip', '-batch', '-'], { input: lines.join('\n') + '\n', signal });
}

/**
 * For a sandbox being restored: the veth pair is created from inside the capsule's netns,
 * its guest end addressed and raised, lo raised and the default route set — one process,
 * so CRIU's setup-namespaces step waits as little as possible. The host end appears in the
 * agent's netns (`hostNetnsPid`), down: `configureHostEnd` finishes it.
 */
export async function createFromGuestSide(slot: NetworkSlot, pid: number, hostNetnsPid: number, signal?: AbortSignal): Promise<void> {
  const lines = [
    `link add ${slot.guestIf} type veth peer name ${slot.hostIf} netns ${hostNetnsPid}`,
    `link set dev lo up`,
    `addr replace ${slot.guestIp}/${slot.prefixLen} dev ${slot.guestIf}`,
    `link set dev ${slot.guestIf} up`,
    `route replace default via ${slot.hostIp} dev ${slot.guestIf} onlink`,
  ];
  await run('nsenter', [`--net=/proc/${pid}/ns/net`, 'ip', '-batch', '-'], { input: lines.join('\n') + '\n', signal });
}

/** Addresses and raises the host end made by `createFromGuestSide`, and creates the IFB device. */
export async function configureHostEnd(slot: NetworkSlot, shaper: { ifName: string; create: boolean }, signal?: AbortSignal): Promise<void> {
  const lines = [`addr add ${slot.hostIp}/${slot.prefixLen} dev ${slot.hostIf}`, `link set dev ${slot.hostIf} up`];
  if (shaper.create) lines.push(`link add ${shaper.ifName} type ifb`, `link set dev ${shaper.ifName} up`);
  await run('ip', ['-batch', '-'], { input: lines.join('\n') + '\n', signal });
}

/**
 * Deletes host interfaces (deleting a veth end deletes its peer, and qdiscs go with their
 * device). Idempotent: names that do not exist, or vanish meanwhile because the capsule's
 * netns died, are not an error.
 */
export async function deleteHostLinks(names: readonly string[], signal?: AbortSignal): Promise<string[]> {
  const present = names.filter(hostLinkExists);
  if (present.length === 0) return [];
  const input = present.map((n) => `link del dev ${n}`).join('\n') + '\n';
  const result = await run('ip', ['-force', '-batch', '-'], { input, signal, allowFailure: true });
  const left = present.filter(hostLinkExists);
  if (result.code !== 0 && left.length > 0) {
    throw new WrennError('internal', `could not delete network interfaces ${left.join(', ')}: ${result.stderr.trim()}`, {
      interfaces: left,
    });
  }
  return present;
}
