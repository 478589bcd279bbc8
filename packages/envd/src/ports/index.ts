/**
 * The port subsystem (docs/decisions.md#e6): a program in the capsule that listens only on 127.0.0.1 (or
 * ::1) cannot be reached through the capsule's network interface, so every scan
 * interval envd reads the namespace's listening sockets and keeps one forwarder per
 * such port on the external address, removing it when the port closes. Stoppable and
 * restartable any number of times (docs/decisions.md#e5): stop() clears the timer and closes every
 * forwarder and its connections.
 */
import { networkInterfaces } from 'node:os';
import type { EnvdContext } from '../core/context.js';
import type { Subsystem } from '../core/subsystem.js';
import { TcpForwarder } from './forwarder.js';
import { forwardTargets } from './plan.js';
import { ownSocketInodes, readTcpListeners } from './proc-net.js';

export interface PortSubsystemOptions {
  /** Address forwarders listen on. Default: the first non-loopback IPv4 address, looked up at each start. */
  readonly externalAddress?: string;
  /** Directory with the `tcp` and `tcp6` tables. Default /proc/net. */
  readonly procNetDir?: string;
  /** Which ports may be forwarded. Default: all; tests limit it to their own listeners. */
  readonly acceptPort?: (port: number) => boolean;
}

export interface PortSubsystemStats {
  readonly forwarders: number;
  readonly connections: number;
  readonly timers: number;
}

/** IPv4 address of the first non-internal interface (the capsule's veth), if any. */
export function firstExternalIPv4(): string | undefined {
  for (const addresses of Object.values(networkInterfaces())) {
    for (const a of addresses ?? []) {
      if (a.family === 'IPv4' && !a.internal) return a.address;
    }
  }
  return undefined;
}

export class PortSubsystem implements Subsystem {
  readonly name = 'ports';
  private active = false;
  /** Bumped by every start and stop; a scan of an older generation changes nothing. */
  private generation = 0;
  private timer: NodeJS.Timeout | undefined;
  /** Scans in flight (an older generation's may still be finishing). */
  private readonly scans = new Set<Promise<void>>();
  private externalAddress: string | undefined;
  private readonly forwarders = new Map<number, TcpForwarder>();
  /** Ports whose forwarder failed to listen; reported once, retried every scan. */
  private readonly failedPorts = new Set<number>();

  constructor(
    readonly ctx: EnvdContext,
    private readonly options: PortSubsystemOptions = {},
  ) {}

  get running(): boolean {
    return this.active;
  }

  stats(): PortSubsystemStats {
    let connections = 0;
    for (const f of this.forwarders.values()) connections += f.connections;
    return { forwarders: this.forwarders.size, connections, timers: this.timer ? 1 : 0 };
  }

  start(): void {
    if (this.active) return;
    this.active = true;
    const generation = ++this.generation;
    this.externalAddress = this.options.externalAddress ?? firstExternalIPv4();
    if (!this.externalAddress) {
      this.ctx.logger.warn('no external IPv4 interface: ports bound to 127.0.0.1 are not forwarded');
      return;
    }
    this.schedule(generation, 0);
  }

  async stop(): Promise<void> {
    this.active = false;
    this.generation++;
    clearTimeout(this.timer);
    this.timer = undefined;
    // A scan in flight may still be starting a forwarder: let it finish, then close them all.
    await Promise.all(this.scans);
    const closing = [...this.forwarders.values()].map((f) => f.close());
    this.forwarders.clear();
    this.failedPorts.clear();
    await Promise.all(closing);
  }

  private schedule(generation: number, delayMs: number): void {
    this.timer = setTimeout(() => {
      this.timer = undefined;
      const scan = this.scan(generation).catch((err: unknown) => {
        this.ctx.logger.warn({ err }, 'port scan failed');
      });
      this.scans.add(scan);
      void scan.finally(() => {
        this.scans.delete(scan);
        if (this.active && generation === this.generation) this.schedule(generation, this.ctx.config.portScanIntervalMs);
      });
    }, delayMs);
  }

  private async scan(generation: number): Promise<void> {
    const listenAddress = this.externalAddress;
    if (!listenAddress) return;
    const listeners = await readTcpListeners(this.options.procNetDir ?? '/proc/net');
    // envd's own sockets only matter when some port listens on loopback at all.
    const anyLoopback = listeners.some((l) => l.address === '127.0.0.1' || l.address === '::1');
    const ignoreInodes = anyLoopback ? await ownSocketInodes() : new Set<number>();
    if (generation !== this.generation) return;
    const wanted = forwardTargets(listeners, { externalAddress: listenAddress, ignoreInodes, acceptPort: this.options.acceptPort });

    for (const [port, forwarder] of this.forwarders) {
      if (wanted.get(port) === forwarder.targetAddress) continue;
      this.forwarders.delete(port);
      await forwarder.close();
      this.ctx.logger.info({ port }, 'port closed: forwarder stopped');
    }
    for (const port of this.failedPorts) if (!wanted.has(port)) this.failedPorts.delete(port);

    for (const [port, target] of wanted) {
      if (this.forwarders.has(port)) continue;
      if (generation !== this.generation) return;
      const forwarder = new TcpForwarder(listenAddress, port, target);
      this.forwarders.set(port, forwarder); // before listening, so stop() closes it too
      try {
        await forwarder.listen();
        this.failedPorts.delete(port);
        this.ctx.logger.info({ port, from: listenAddress, to: target }, 'forwarding loopback-only port');
      } catch (err) {
        this.forwarders.delete(port);
        await forwarder.close();
        if (!this.failedPorts.has(port)) this.ctx.logger.warn({ port, err }, 'cannot forward port');
        this.failedPorts.add(port);
      }
    }
  }
}
