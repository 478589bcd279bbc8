/**
 * In-memory ports for the domain's unit tests (`*.test.ts` beside the code): every call
 * to the runtime, network, rootfs, envd, connections and watchers is written to `calls`
 * in order, and a call named in `faults` throws. Only the record and snapshot stores touch
 * the disk, in a temporary directory. No root, no spawned tools.
 *
 * @example
 * const t = await memoryKit({ faults: { 'runtime.checkpoint': new Error('criu died') } });
 * await new PauseController(t.kit).pause(t.add(runningRecord()), 'memory').catch(() => {});
 * t.calls; // ['watchers.stop', 'connections.drain', 'envd.prepareSnapshot', ...]
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '@wrenn/shared';
import type { CapsuleRecord } from '../capsule-record.js';
import { CapsuleStore } from '../capsule-store.js';
import type { CapsuleKit, CapsuleSettings } from '../capsules/kit.js';
import { CapsuleRegistry, type LiveCapsule } from '../capsules/registry.js';
import type { EnvdClient, HostFacts, NetworkSlot, Runtime, TemplateInfo } from '../ports.js';

export interface MemoryKitOptions {
  /** Calls (by their name in `calls`) that throw this error. */
  faults?: Record<string, Error>;
  /** What runtime.state answers (default: running). */
  sandboxStatus?: 'running' | 'paused' | 'stopped' | undefined;
  host?: Partial<HostFacts>;
}

export interface MemoryKit {
  kit: CapsuleKit;
  calls: string[];
  dir: string;
  /** Registers a live capsule with an envd connection. */
  add(record: CapsuleRecord): LiveCapsule;
  close(): Promise<void>;
}

export const TEST_TEMPLATE: TemplateInfo = {
  name: 'minimal',
  sizeBytes: 300 * 1024 * 1024,
  defaultUser: 'user',
  defaultWorkdir: '/home/user',
  createdAt: '2026-01-01T00:00:00.000Z',
} as TemplateInfo;

export function slotOf(index: number): NetworkSlot {
  return { index, hostIp: `10.11.0.${index * 4 + 1}`, guestIp: `10.11.0.${index * 4 + 2}`, hostIf: `wr${index}h`, guestIf: `wr${index}g` } as NetworkSlot;
}

/** A running capsule's record, as a create leaves it. */
export function runningRecord(overrides: Partial<CapsuleRecord> = {}): CapsuleRecord {
  return {
    id: 'cl-unit',
    runtimeId: 'cl-unit',
    status: 'running',
    template: 'minimal',
    vcpus: 1,
    memoryMb: 512,
    diskSizeBytes: 1024 * 1024 * 1024,
    netSlot: 3,
    address: slotOf(3).guestIp,
    envdAccessToken: 'token',
    createdAtMs: Date.now(),
    expiresAtMs: 0,
    metadata: {},
    envs: {},
    defaultUser: 'user',
    egress: true,
    fromWarmPool: false,
    ...overrides,
  };
}

export async function memoryKit(opts: MemoryKitOptions = {}): Promise<MemoryKit> {
  const dir = await mkdtemp(join(tmpdir(), 'wrenn-unit-'));
  const calls: string[] = [];
  const call = async (name: string): Promise<void> => {
    calls.push(name);
    const fault = opts.faults?.[name];
    if (fault) throw fault;
  };
  const sandboxStatus = 'sandboxStatus' in opts ? opts.sandboxStatus : 'running';
  const runtime: Runtime = {
    name: 'memory',
    run: async (spec) => (await call('runtime.run'), { id: spec.id, status: 'running', pid: 4242 }),
    state: async (id) => (await call('runtime.state'), sandboxStatus ? { id, status: sandboxStatus, pid: 4242 } : undefined),
    kill: (_id, signal) => call(`runtime.kill.${signal}`),
    delete: () => call('runtime.delete'),
    update: () => call('runtime.update'),
    freeze: () => call('runtime.freeze'),
    thaw: () => call('runtime.thaw'),
    checkpoint: async () => (await call('runtime.checkpoint'), { socketsNeedNetwork: false }),
    restore: async (spec) => (await call('runtime.restore'), { id: spec.id, status: 'running', pid: 4242, pagesLoaded: Promise.resolve() }),
    stats: async () => (await call('runtime.stats'), { cpuUsageNs: 0, memoryUsedBytes: 0, memoryLimitBytes: 1, pids: 1 }),
    list: async () => (await call('runtime.list'), []),
  };
  let nextSlot = 1;
  const envd = (): EnvdClient => {
    // The domain calls only these five on a connection (see EnvdConnector); the cast stands
    // for the processes and files API, which the RPC layer alone uses.
    const connection = {
      health: async () => (await call('envd.health'), true),
      waitHealthy: () => call('envd.waitHealthy'),
      init: () => call('envd.init'),
      prepareSnapshot: () => call('envd.prepareSnapshot'),
      close: () => void calls.push('envd.close'),
    };
    return connection as unknown as EnvdClient;
  };
  const settings: CapsuleSettings = {
    dataDir: dir,
    defaultRootfsSizeBytes: 1024 * 1024 * 1024,
    uidBase: 100000,
    uidRange: 65536,
    pidsMax: 1024,
    netRateBytesPerSec: 0,
    netBurstBytes: 0,
    envdStartTimeoutMs: 1000,
    snapshotDir: join(dir, 'snapshots'),
    snapshotTemplateDir: join(dir, 'snapshot-templates'),
    pauseTimeoutMs: 10_000,
    snapshotPrepareTimeoutMs: 1000,
    pauseDrainGraceMs: 100,
  };
  const registry = new CapsuleRegistry(new CapsuleStore(dir));
  const kit: CapsuleKit = {
    logger: silentLogger(),
    settings,
    host: {
      hostId: 'host-unit',
      vcpusTotal: 8,
      memoryTotalMb: () => 16_384,
      memoryFreeMb: () => 8_192,
      pause: { memory: true, lazyPages: false },
      ...opts.host,
    },
    registry,
    watchers: { start: () => void calls.push('watchers.start'), stop: () => void calls.push('watchers.stop') },
    runtime,
    network: {
      allocate: () => (calls.push('network.allocate'), slotOf(nextSlot++)),
      slot: (i) => slotOf(i),
      reserve: (i) => (calls.push('network.reserve'), slotOf(i)),
      release: () => void calls.push('network.release'),
      plumb: () => call('network.plumb'),
      setEgressPolicy: () => call('network.setEgressPolicy'),
      plumbRestored: () => {
        const done = call('network.plumbRestored');
        return { guestReady: done, complete: done };
      },
      unplumb: () => call('network.unplumb'),
    },
    rootfs: {
      create: async ({ capsuleDir }) => (await call('rootfs.create'), { mergedDir: join(capsuleDir, 'rootfs') }) as never,
      mountExisting: async ({ capsuleDir }) => (await call('rootfs.mountExisting'), { mergedDir: join(capsuleDir, 'rootfs') }) as never,
      rootfsDirOf: (capsuleDir) => join(capsuleDir, 'rootfs'),
      unmount: () => call('rootfs.unmount'),
      remove: () => call('rootfs.remove'),
      usage: async () => ({ usedBytes: 0, totalBytes: 1 }),
    },
    templates: {
      get: async (name) => (await call('templates.get'), { ...TEST_TEMPLATE, name }),
      list: async () => [TEST_TEMPLATE],
    },
    envd: { port: 49983, connect: () => (calls.push('envd.connect'), envd()) },
    envdLaunch: { mounts: [], args: ['/envd'], env: [] },
    disk: {
      copyMounted: () => call('disk.copyMounted'),
      adopt: () => call('disk.adopt'),
      thaw: () => call('disk.thaw'),
      allocatedBytes: async () => 0,
    },
    connections: { drain: () => call('connections.drain'), close: () => void calls.push('connections.close') },
  };
  return {
    kit,
    calls,
    dir,
    add(record) {
      const live: LiveCapsule = { record, lastActivityMs: Date.now(), envd: envd() };
      registry.add(live);
      return live;
    },
    close: () => rm(dir, { recursive: true, force: true }),
  };
}
