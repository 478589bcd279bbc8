/**
 * Which ports need a forwarder (docs/decisions.md#e6): those whose listeners are all on loopback
 * (127.0.0.1 or ::1). A port that also listens on a wildcard address or on the external
 * address is reachable from the host already.
 */
import type { TcpListener } from './proc-net.js';

const WILDCARDS = new Set(['0.0.0.0', '::']);

export interface PlanOptions {
  /** Address the forwarders listen on. */
  readonly externalAddress: string;
  /** Sockets to disregard: envd's own server and forwarders. */
  readonly ignoreInodes: ReadonlySet<number>;
  readonly acceptPort?: (port: number) => boolean;
}

/** Port → loopback address to forward it to. */
export function forwardTargets(listeners: readonly TcpListener[], opts: PlanOptions): Map<number, string> {
  const byPort = new Map<number, Set<string>>();
  for (const l of listeners) {
    if (opts.ignoreInodes.has(l.inode)) continue;
    if (opts.acceptPort && !opts.acceptPort(l.port)) continue;
    const addresses = byPort.get(l.port) ?? new Set<string>();
    addresses.add(l.address);
    byPort.set(l.port, addresses);
  }
  const targets = new Map<number, string>();
  for (const [port, addresses] of byPort) {
    if ([...addresses].some((a) => WILDCARDS.has(a) || a === opts.externalAddress)) continue;
    if (addresses.has('127.0.0.1')) targets.set(port, '127.0.0.1');
    else if (addresses.has('::1')) targets.set(port, '::1');
  }
  return targets;
}
