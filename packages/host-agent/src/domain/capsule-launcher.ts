/**
 * Starting a capsule: disk, runtime, network, envd, /init — in that order, with every
 * resource registered for undo so that a failure at any step leaves nothing behind.
 */
import { randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { DisposableStack, WrennError, type Logger } from '@wrenn/shared';
import type { TemplateInfo, CapsuleRootfs } from '../infra/rootfs/layers.js';
import type { Runtime, SandboxSpec } from '../infra/runtime/runtime.js';
import type { NetworkSlot } from '../infra/net/network.js';
import { EnvdClient } from '../infra/envd/envd-client.js';
import type { AgentConfig } from '../start/config.js';
import type { CapsuleRecord } from './capsule-record.js';
import type { CapsuleStore } from './capsule-store.js';
import type { EnvdLaunch, NetworkPort, RootfsPort } from './ports.js';

export interface LauncherDeps {
  config: AgentConfig;
  logger: Logger;
  store: CapsuleStore;
  rootfs: RootfsPort;
  network: NetworkPort;
  runtime: Runtime;
  envd: EnvdLaunch;
}

export interface Launched {
  record: CapsuleRecord;
  envd: EnvdClient;
  rootfs: CapsuleRootfs;
}

export function newAccessToken(): string {
  return randomBytes(24).toString('hex');
}

export function runtimeSpec(deps: LauncherDeps, record: CapsuleRecord, rootfsDir: string): SandboxSpec {
  return {
    id: record.runtimeId,
    bundleDir: join(deps.store.dirOf(record.runtimeId), 'bundle'),
    rootfs: rootfsDir,
    hostname: record.id.slice(0, 63),
    idMapping: { hostBase: deps.config.uidBase, size: deps.config.uidRange },
    limits: { vcpus: record.vcpus, memoryMb: record.memoryMb, pidsMax: deps.config.pidsMax },
    mounts: deps.envd.mounts,
    args: deps.envd.args,
    env: deps.envd.env,
    cwd: '/',
  };
}

/** Files every capsule expects to describe itself (written into its writable layer). */
export async function writeIdentityFiles(rootfsDir: string, hostname: string, uid: number): Promise<void> {
  const etc = join(rootfsDir, 'etc');
  await fsp.mkdir(etc, { recursive: true });
  const files: Record<string, string> = {
    hostname: `${hostname}\n`,
    hosts: `127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n127.0.1.1\t${hostname}\n`,
  };
  for (const [name, content] of Object.entries(files)) {
    const path = join(etc, name);
    await fsp.rm(path, { force: true });
    await fsp.writeFile(path, content, { mode: 0o644 });
    await fsp.lchown(path, uid, uid);
  }
}

/**
 * Creates and starts the capsule described by `record` (status `starting`, already
 * holding its network slot). Resolves with envd initialised; rejects having undone
 * everything it did, including the record on disk.
 */
export async function launchCapsule(
  deps: LauncherDeps,
  record: CapsuleRecord,
  template: TemplateInfo,
  slot: NetworkSlot,
  signal?: AbortSignal,
): Promise<Launched> {
  const log = deps.logger.child({ capsuleId: record.id, runtimeId: record.runtimeId });
  const undo = new DisposableStack();
  const started = Date.now();
  const phases: Record<string, number> = {};
  const mark = (name: string, since: number) => (phases[name] = Date.now() - since);
  try {
    const capsuleDir = deps.store.dirOf(record.runtimeId);
    await deps.store.save(record);
    undo.defer(() => deps.store.remove(record.runtimeId));

    let t = Date.now();
    const rootfs = await deps.rootfs.create({ capsuleDir, template, diskSizeBytes: record.diskSizeBytes, signal });
    undo.defer(() => deps.rootfs.remove(capsuleDir));
    await writeIdentityFiles(rootfs.mergedDir, record.id.slice(0, 63), deps.config.uidBase);
    mark('rootfsMs', t);

    t = Date.now();
    await fsp.mkdir(join(capsuleDir, 'bundle'), { recursive: true, mode: 0o711 });
    const state = await deps.runtime.run(runtimeSpec(deps, record, rootfs.mergedDir), signal);
    undo.defer(() => deps.runtime.delete(record.runtimeId, { force: true }));
    mark('runtimeMs', t);

    t = Date.now();
    await deps.network.plumb(
      slot,
      state.pid,
      { egress: record.egress, rateBytesPerSec: deps.config.netRateBytesPerSec, burstBytes: deps.config.netBurstBytes },
      signal,
    );
    undo.defer(() => deps.network.unplumb(slot));
    mark('networkMs', t);

    t = Date.now();
    const envd = new EnvdClient(slot.guestIp, deps.envd.port, undefined);
    undo.defer(() => envd.close());
    await envd.waitHealthy(deps.config.envdStartTimeoutMs, signal);
    mark('envdHealthyMs', t);
    t = Date.now();
    await envd.init(
      {
        accessToken: record.envdAccessToken,
        defaultUser: record.defaultUser,
        defaultWorkdir: record.workdir,
        envVars: record.envs,
        metadata: record.metadata,
        capsuleId: record.id,
        templateId: record.template,
      },
      signal,
    );
    mark('initMs', t);
    log.info({ ...phases, durationMs: Date.now() - started, pid: state.pid, address: slot.guestIp }, 'capsule started');
    return { record, envd, rootfs };
  } catch (err) {
    log.warn({ err: (err as Error).message, ...phases, durationMs: Date.now() - started }, 'capsule start failed; undoing');
    await undo.dispose().catch((cleanupErr: unknown) => {
      log.error({ err: (cleanupErr as Error).message }, 'cleanup after a failed start was incomplete');
    });
    if (err instanceof WrennError) throw err;
    throw new WrennError('internal', `capsule ${record.id} failed to start: ${(err as Error).message}`, { capsuleId: record.id }, { cause: err });
  }
}
