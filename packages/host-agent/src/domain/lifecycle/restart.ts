/**
 * A running capsule whose envd died (capsules/envd-supervisor.ts) is started again on its
 * own disk: its init is gone with envd (tini exits with its child, and the kernel ends
 * every process of the capsule with it), so the runtime is deleted and run again, the veth
 * plumbed again at the same address, envd /init re-run with the capsule's token, envs and
 * user. The files survive, the processes do not: the record counts the restart and keeps
 * its reason (`restarts`, `lastRestart`), and the control plane shows it.
 *
 * A capsule that cannot be started again, or whose envd keeps dying (MAX_RESTARTS within
 * RESTART_WINDOW_MS), becomes `error` with the reason, its processes and network released,
 * its disk kept until Destroy: never a `running` capsule nobody can reach.
 */
import type { LiveCapsule } from '../capsules/registry.js';
import { capsuleDir, plumbOptions, runtimeSpec, type CapsuleKit } from '../capsules/kit.js';
import { initBody } from '../pause/revival.js';

export const MAX_RESTARTS = 3;
export const RESTART_WINDOW_MS = 60_000;

/** Restarts of this capsule within the window, by time (in memory: an agent restart forgets them). */
const recent = new WeakMap<LiveCapsule, number[]>();

export async function restartCapsule(kit: CapsuleKit, live: LiveCapsule, reason: string): Promise<void> {
  const { record } = live;
  const log = kit.logger.child({ capsuleId: record.id, runtimeId: record.runtimeId });
  if (record.status !== 'running') return;
  const started = Date.now();
  kit.watchers.stop(live);
  live.envd?.close();
  delete live.envd;
  const slot = kit.network.slot(record.netSlot);
  const times = (recent.get(live) ?? []).filter((t) => started - t < RESTART_WINDOW_MS);
  recent.set(live, times);
  try {
    if (times.length >= MAX_RESTARTS) {
      throw new Error(`it died ${times.length + 1} times within ${RESTART_WINDOW_MS / 1000} s`);
    }
    const signal = AbortSignal.timeout(kit.settings.envdStartTimeoutMs + 30_000);
    await kit.runtime.delete(record.runtimeId, { force: true });
    await kit.network.unplumb(slot);
    const spec = runtimeSpec(kit, record, kit.rootfs.rootfsDirOf(capsuleDir(kit, record.runtimeId)));
    const { pid } = await kit.runtime.run(spec, signal);
    await kit.network.plumb(slot, pid, plumbOptions(kit, record), signal);
    const envd = kit.envd.connect(record.address, undefined);
    try {
      await envd.waitHealthy(kit.settings.envdStartTimeoutMs, signal);
      await envd.init(initBody(record), signal);
    } catch (err) {
      envd.close();
      throw err;
    }
    live.envd = envd;
  } catch (err) {
    const message = `${reason}; it could not be started again: ${(err as Error).message}`;
    await kit.runtime.delete(record.runtimeId, { force: true }).catch(() => {});
    await kit.network.unplumb(slot).catch(() => {});
    kit.registry.transition(live, 'running', 'error');
    record.error = message;
    await kit.registry.save(record).catch(() => {});
    log.error({ reason, err: (err as Error).message }, 'envd lost and the capsule could not be restarted: capsule is error');
    return;
  }
  times.push(started);
  record.restarts = (record.restarts ?? 0) + 1;
  record.lastRestart = { atMs: started, reason };
  await kit.registry.save(record);
  live.lastActivityMs = Date.now();
  kit.watchers.start(live);
  log.warn({ reason, restarts: record.restarts, durationMs: Date.now() - started }, 'envd lost: capsule restarted on its disk (its processes were lost)');
}
