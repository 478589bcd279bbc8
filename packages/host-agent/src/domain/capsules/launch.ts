/**
 * Starting a capsule from a base template: disk, runtime, network, envd, /init — in that
 * order, with every resource registered for undo so that a failure at any step leaves
 * nothing behind, the record on disk included.
 */
import { randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { DisposableStack, WrennError } from '@wrenn/shared';
import type { CapsuleRecord } from '../capsule-record.js';
import type { EnvdClient, NetworkSlot, TemplateInfo } from '../ports.js';
import { attachVolumes, capsuleDir, hostnameOf, plumbOptions, runtimeSpec, type CapsuleKit } from './kit.js';

export function newAccessToken(): string {
  return randomBytes(24).toString('hex');
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

/** The capsule's directory and its bundle directory (config.json, logs), before the runtime starts it. */
export async function prepareBundle(kit: Pick<CapsuleKit, 'registry'>, runtimeId: string): Promise<void> {
  // 0711: the capsule's mapped root must traverse to its rootfs.
  await fsp.mkdir(join(capsuleDir(kit, runtimeId), 'bundle'), { recursive: true, mode: 0o711 });
  await fsp.chmod(capsuleDir(kit, runtimeId), 0o711);
}

/**
 * Creates and starts the capsule described by `record` (status `starting`, already
 * holding its network slot). Resolves with envd initialised; rejects having undone
 * everything it did, including the record on disk.
 */
export async function launchCapsule(kit: CapsuleKit, record: CapsuleRecord, template: TemplateInfo, slot: NetworkSlot, signal?: AbortSignal): Promise<EnvdClient> {
  const { registry, settings } = kit;
  const log = kit.logger.child({ capsuleId: record.id, runtimeId: record.runtimeId });
  const undo = new DisposableStack();
  const started = Date.now();
  const phases: Record<string, number> = {};
  const mark = (name: string, since: number) => (phases[name] = Date.now() - since);
  try {
    const dir = capsuleDir(kit, record.runtimeId);
    await registry.save(record);
    undo.defer(() => registry.store.remove(record.runtimeId));

    let t = Date.now();
    const rootfs = await kit.rootfs.create({ capsuleDir: dir, template, diskSizeBytes: record.diskSizeBytes, signal });
    undo.defer(() => kit.rootfs.remove(dir));
    await writeIdentityFiles(rootfs.mergedDir, hostnameOf(record), settings.uidBase);
    mark('rootfsMs', t);

    t = Date.now();
    await fsp.mkdir(join(dir, 'bundle'), { recursive: true, mode: 0o711 });
    await attachVolumes(kit, record, signal);
    const state = await kit.runtime.run(runtimeSpec(kit, record, rootfs.mergedDir), signal);
    undo.defer(() => kit.runtime.delete(record.runtimeId, { force: true }));
    mark('runtimeMs', t);

    t = Date.now();
    await kit.network.plumb(slot, state.pid, plumbOptions(kit, record), signal);
    undo.defer(() => kit.network.unplumb(slot));
    mark('networkMs', t);

    t = Date.now();
    const envd = kit.envd.connect(slot.guestIp, undefined);
    undo.defer(() => envd.close());
    await envd.waitHealthy(settings.envdStartTimeoutMs, signal);
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
    return envd;
  } catch (err) {
    log.warn({ err: (err as Error).message, ...phases, durationMs: Date.now() - started }, 'capsule start failed; undoing');
    await undo.dispose().catch((cleanupErr: unknown) => {
      log.error({ err: (cleanupErr as Error).message }, 'cleanup after a failed start was incomplete');
    });
    if (err instanceof WrennError) throw err;
    throw new WrennError('internal', `capsule ${record.id} failed to start: ${(err as Error).message}`, { capsuleId: record.id }, { cause: err });
  }
}
