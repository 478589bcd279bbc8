/**
 * Composition root of the host agent: builds every adapter from the config, recovers the
 * capsules left on disk, and serves the RPC API. `close()` stops serving and releases
 * timers; capsules keep running so a restarted agent adopts them.
 */
import { envdAlive, protectEnvd, type GuardedEnvd } from '../infra/runtime/envd-guard.js';
import { randomBytes } from 'node:crypto';
import { freemem, totalmem } from 'node:os';
import { promises as fsp } from 'node:fs';
import { join, resolve } from 'node:path';
import { WrennError, type Logger } from '@wrenn/shared';
import { CapsuleManager } from '../domain/capsule-manager.js';
import type { EnvdConnector, EnvdLaunch, HostFacts, NetworkPort, RootfsPort, TemplatePort } from '../domain/ports.js';
import { EnvdClient } from '../infra/envd/envd-client.js';
import { detectCgroupLayout } from '../infra/cgroup/index.js';
import { ensureEnvdRuntime, envdCommand, envdEnvironment, ENVD_MOUNT_POINT, ENVD_PORT } from '../infra/envd-runtime/runtime-dir.js';
import { AddressPool } from '../infra/net/address-pool.js';
import { NetworkManager, egressPolicyOf } from '../infra/net/network-manager.js';
import { EgressResolver } from '../infra/net/egress-domains.js';
import { capsuleRootfsPaths, releaseAllLeftoverRootfs } from '../infra/rootfs/index.js';
import { loopOverlayRootfs } from '../infra/rootfs/loop-overlay-rootfs.js';
import { unmountCapsuleRootfs } from '../infra/rootfs/capsule-rootfs.js';
import { adoptCapsuleDisk, allocatedBytes, copyMountedCapsuleDisk, thawCapsuleDisk } from '../infra/rootfs/disk-copy.js';
import { probeCriu } from '../infra/criu/criu-probe.js';
import { enableUnprivilegedUserfaultfd, type UserfaultfdGrant } from '../infra/criu/userfaultfd-sysctl.js';
import { ensureKdatCache } from '../infra/criu/kdat-cache.js';
import { OciRuntime } from '../infra/runtime/oci/index.js';
import { TemplateStore } from '../infra/template/index.js';
import { createAgentServer, type AgentServer } from '../rpc/server.js';
import { CapsuleConnections } from '../proxy/capsule-connections.js';
import { createProxyServer, type ProxyServer } from '../proxy/proxy-server.js';
import { registerHostAgentService } from '../rpc/service.js';
import { Admission } from '../rpc/admission.js';
import type { AgentConfig } from './config.js';
import { Volumes } from '../domain/volumes.js';
import { VolumeStore } from '../infra/volume/volume-store.js';
import type { CapsuleRecord } from '../domain/capsule-record.js';

export const AGENT_VERSION = '0.1.0';

export interface StartOptions {
  /** packages/envd/dist (bundle + addons); default: resolved from this package. */
  envdDist?: string;
  /** Serve the RPC API (default true). */
  listen?: boolean;
}

export interface HostAgent {
  readonly hostId: string;
  readonly token: string;
  readonly port: number;
  /** Port of the proxy listener (proxied traffic to capsule ports); 0 when not serving. */
  readonly proxyPort: number;
  readonly manager: CapsuleManager;
  readonly templates: TemplateStore;
  readonly network: NetworkManager;
  readonly runtime: OciRuntime;
  readonly server?: AgentServer;
  readonly proxy?: ProxyServer;
  /** Proxied exchanges of every capsule (drain, destroy). */
  readonly connections: CapsuleConnections;
  /** The start queue (rpc/admission.ts): its depth goes to the control plane in each heartbeat. */
  readonly admission: Admission;
  close(): Promise<void>;
}

async function readOrCreate(path: string, make: () => string): Promise<string> {
  try {
    return (await fsp.readFile(path, 'utf8')).trim();
  } catch {
    const value = make();
    await fsp.writeFile(path, `${value}\n`, { mode: 0o600, flag: 'wx' }).catch(async (err: NodeJS.ErrnoException) => {
      if (err.code !== 'EEXIST') throw err;
    });
    return (await fsp.readFile(path, 'utf8')).trim();
  }
}

/**
 * Lazy restore (WRENN_LAZY_RESTORE=auto) needs vm.unprivileged_userfaultfd=1; the agent,
 * root, turns it on and owns the change (see userfaultfd-sysctl.ts for what that opens and
 * why capsules cannot use it). Undefined, with a warning, where it cannot: restores are eager.
 */
async function allowLazyRestore(log: Logger): Promise<UserfaultfdGrant | undefined> {
  try {
    const grant = await enableUnprivilegedUserfaultfd();
    if (grant.changed) {
      log.warn(
        'set vm.unprivileged_userfaultfd=1 for lazy restore (capsules cannot use userfaultfd: seccomp); set WRENN_LAZY_RESTORE=off to leave it 0 and restore eagerly',
      );
    }
    return grant;
  } catch (err) {
    log.warn({ err: (err as Error).message }, 'cannot set vm.unprivileged_userfaultfd=1: restores are eager');
    return undefined;
  }
}

export async function startHostAgent(config: AgentConfig, logger: Logger, opts: StartOptions = {}): Promise<HostAgent> {
  await fsp.mkdir(config.dataDir, { recursive: true, mode: 0o711 });
  const hostId = await readOrCreate(join(config.dataDir, 'host-id'), () => `host-${randomBytes(6).toString('hex')}`);
  const token = config.token ?? (await readOrCreate(join(config.dataDir, 'agent-token'), () => randomBytes(32).toString('hex')));
  const log = logger.child({ hostId });
  const layout = await detectCgroupLayout();
  const idMapping = { hostBase: config.uidBase, size: config.uidRange };

  const templates = new TemplateStore({ dataDir: config.dataDir, idMapping, logger: log });
  const envdDist = opts.envdDist ?? resolve(import.meta.dirname, '../../../envd/dist');
  const envdRuntime = await ensureEnvdRuntime(config.dataDir, {
    nodeBinary: process.execPath,
    envdDist,
    tiniStatic: '/usr/bin/tini-static',
  });
  const envdLaunch: EnvdLaunch = {
    mounts: [{ source: envdRuntime.dir, destination: ENVD_MOUNT_POINT, readonly: true }],
    args: await envdCommand(envdRuntime),
    env: envdEnvironment(),
  };
  const envd: EnvdConnector = { port: ENVD_PORT, connect: (address, accessToken) => new EnvdClient(address, ENVD_PORT, accessToken) };

  const criu = await probeCriu(config.criuPath);
  const runtime = new OciRuntime({
    dataDir: config.dataDir,
    logger: log,
    runcPath: config.runcPath,
    criuPath: config.criuPath,
    cgroupParent: config.cgroupParent,
    ...(criu.lazyPagesPreload ? { lazyPagesPreload: criu.lazyPagesPreload } : {}),
  });
  const pool = new AddressPool({ cidr: config.networkCidr, ifPrefix: config.ifPrefix });
  const network = await NetworkManager.open({ logger: log, pool, enableIpForwarding: config.ipForward, nftTable: config.nftTable, allowedCidrs: config.egressAllow });
  const networkPort: NetworkPort = {
    allocate: () => pool.allocate(),
    slot: (i) => pool.slot(i),
    reserve: (i) => pool.reserve(i),
    release: (i) => pool.release(i),
    plumb: (slot, pid, o, signal) => network.plumb(slot, pid, o, signal),
    plumbRestored: (slot, pid, o, signal) => network.plumbRestored(slot, pid, o, signal),
    unplumb: (slot) => network.unplumb(slot),
    setEgressPolicy: (slot, o) => network.setEgressPolicy(slot, egressPolicyOf(o)),
  };
  const egressResolver = new EgressResolver({ logger: log, servers: config.egressDns });
  const templatePort: TemplatePort = {
    get: async (name) => {
      try {
        return await templates.get(name);
      } catch (err) {
        if (err instanceof WrennError && err.httpStatus === 404) throw new WrennError('template_not_found', err.message, { template: name });
        throw err;
      }
    },
    list: () => templates.list(),
  };
  const rootfsPort: RootfsPort = {
    ...loopOverlayRootfs({ idMapping, logger: log }),
    rootfsDirOf: (capsuleDir) => capsuleRootfsPaths(capsuleDir).mergedDir,
    unmount: (capsuleDir) => unmountCapsuleRootfs(capsuleDir, log),
  };
  const userfaultfd = criu.memory && criu.uffd && config.lazyRestore === 'auto' ? await allowLazyRestore(log) : undefined;
  const lazyPages = userfaultfd !== undefined;
  const kdatCache = criu.memory ? await ensureKdatCache(criu.criuPath, join(config.dataDir, 'criu')) : 'unavailable';
  log.info(
    { criu: criu.criuPath, version: criu.version, memory: criu.memory, lazyPages, lazyPagesShim: Boolean(criu.lazyPagesPreload), kdatCache, detail: criu.detail },
    'pause support',
  );
  const host: HostFacts = {
    hostId,
    vcpusTotal: config.vcpusTotal,
    memoryTotalMb: () => Math.floor(totalmem() / 1048576),
    memoryFreeMb: () => Math.floor(freemem() / 1048576),
    pause: { memory: criu.memory, lazyPages, ...(criu.version ? { criuVersion: criu.version } : {}) },
  };
  const connections = new CapsuleConnections();
  // Holders of a volume are read from the manager's records (the manager needs the volumes first).
  let records: () => CapsuleRecord[] = () => [];
  const volumes = new Volumes(new VolumeStore(config.dataDir, { hostBase: config.uidBase, size: config.uidRange }, log.child({ component: 'volumes' })), () => records());
  const admission = new Admission(config.startConcurrency);
  const manager = new CapsuleManager({
    volumes,
    logger: log,
    settings: config,
    host,
    templates: templatePort,
    rootfs: rootfsPort,
    network: networkPort,
    egressResolver,
    runtime,
    envd,
    envdLaunch,
    disk: {
      copyMounted: (capsuleDir, dst, signal) => copyMountedCapsuleDisk(capsuleDir, dst, signal),
      adopt: (src, capsuleDir, signal) => adoptCapsuleDisk(src, capsuleDir, signal),
      thaw: (capsuleDir) => thawCapsuleDisk(capsuleDir),
      allocatedBytes: (path) => allocatedBytes(path),
    },
    connections: {
      drain: async (capsuleId, graceMs, signal) => {
        const started = Date.now();
        const outcome = await connections.drain(capsuleId, graceMs, signal);
        if (outcome.finished + outcome.forceClosed > 0) log.info({ capsuleId, ...outcome, durationMs: Date.now() - started }, 'proxied connections drained');
      },
      close: (capsuleId) => connections.close(capsuleId),
    },
    envdGuard: {
      protect: (initPid) => protectEnvd(initPid),
      alive: (guarded) => envdAlive(guarded as GuardedEnvd),
    },
  });

  records = () => manager.list();
  const recovered = await manager.recover();
  const liveSlots = manager.list().map((c) => c.netSlot);
  await network.cleanupLeftovers(liveSlots);
  await releaseAllLeftoverRootfs(config.dataDir, {
    knownCapsuleDirs: manager.list().map((c) => manager.store.dirOf(c.runtimeId)),
    logger: log,
  }).catch((err: unknown) =>
    log.warn({ err: (err as Error).message }, 'leftover rootfs cleanup incomplete'),
  );

  manager.enableWarmPool(config.warmPool);
  // Allow-list names are resolved again while their capsules run (egress-domains.ts).
  const egressRefresh = setInterval(() => void manager.refreshEgressDomains(), config.egressDnsRefreshSec * 1000);
  egressRefresh.unref();

  let server: AgentServer | undefined;
  let proxy: ProxyServer | undefined;
  let port = 0;
  let proxyPort = 0;
  if (opts.listen ?? true) {
    proxy = createProxyServer({
      token,
      logger: log,
      connections,
      target: (capsuleId) => manager.proxyTarget(capsuleId),
      touch: (capsuleId) => manager.touch(capsuleId),
    });
    proxyPort = await proxy.listen(config.proxyPort, config.host);
    server = createAgentServer({
      token,
      logger: log,
      routes: (router) =>
        registerHostAgentService(router, {
          config,
          manager,
          hostId,
          version: AGENT_VERSION,
          runtimeName: runtime.name,
          cgroupMode: layout.mode,
          proxyPort,
          templates,
          volumes,
          admission,
          logger: log,
        }),
    });
    port = await server.listen(config.port, config.host);
  }
  log.info({ port, proxyPort, adopted: recovered.adopted.length, cleaned: recovered.cleaned.length, cgroup: layout.mode }, 'host agent ready');

  return {
    hostId,
    token,
    port,
    proxyPort,
    manager,
    templates,
    network,
    runtime,
    server,
    ...(proxy ? { proxy } : {}),
    connections,
    admission,
    close: async () => {
      clearInterval(egressRefresh);
      await proxy?.close();
      await server?.close();
      await manager.pauser.released();
      manager.close();
      await userfaultfd?.release();
    },
  };
}
