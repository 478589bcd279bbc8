/**
 * The warm pool's capsules: started ahead (status `warm`, invisible to callers) and handed
 * to a Create that fits them (same template, default disk, same egress) with its limits
 * adjusted in place, envd re-initialised with the caller's envs, user, metadata and a fresh
 * access token. A claim that fails destroys the warm capsule; the Create then starts cold.
 */
import { randomBytes } from 'node:crypto';
import { execCommand } from '../process-ops.js';
import type { PauseController } from '../pause/pause-controller.js';
import { WarmPool } from '../warm-pool.js';
import type { CapsuleRecord } from '../capsule-record.js';
import { baseShape, claimedRecord, createSpec, type CapsuleShape, type CreateSpec } from './create-rules.js';
import { destroyCapsule } from './destroy.js';
import { plumbOptions, type CapsuleKit } from '../capsules/kit.js';
import { newAccessToken } from '../capsules/launch.js';
import { startCold } from './create.js';

/** Shape every warm capsule is started with; a claim adjusts CPU and memory in place. */
export const WARM_SHAPE = { vcpus: 1, memoryMb: 512 } as const;
/** How long after a claim the warm pool starts the replacement capsule. */
const WARM_REFILL_DELAY_MS = 500;
/** Commands run in a new warm capsule so its envd has compiled its hot paths before a claim. */
const WARM_UP_EXECS = 10;

export class WarmCapsules {
  private pool: WarmPool | undefined;

  constructor(
    private readonly kit: CapsuleKit,
    private readonly pauser: PauseController,
  ) {}

  /** Starts keeping `targets` warm capsules per template (WRENN_WARM_POOL). */
  enable(targets: Record<string, number>): void {
    if (Object.keys(targets).length === 0) return;
    const { kit } = this;
    this.pool?.stop();
    this.pool = new WarmPool(
      targets,
      {
        count: (template) => kit.registry.all().filter((c) => c.record.warm && c.record.template === template).length,
        startOne: (template) => this.startOne(template),
      },
      kit.logger.child({ component: 'warm-pool' }),
    );
    this.pool.kick();
  }

  stop(): void {
    this.pool?.stop();
  }

  private async startOne(template: string): Promise<void> {
    const { kit } = this;
    const runtimeId = `warm-${randomBytes(4).toString('hex')}`;
    const info = await kit.templates.get(template);
    const spec = createSpec({ capsuleId: runtimeId, template, ...WARM_SHAPE });
    await startCold(kit, spec, runtimeId, info, baseShape(spec, info, kit.settings.defaultRootfsSizeBytes), true);
    // A fresh envd compiles its process-launch path over its first runs (~30 ms, then ~15): pay that
    // here, not in the first command of whoever claims the capsule.
    const envd = kit.registry.find(runtimeId)?.envd;
    for (let i = 0; envd && i < WARM_UP_EXECS; i++) await execCommand(envd, { cmd: 'true', args: [], envs: {} }, 10_000).catch(() => undefined);
  }

  /** A warm capsule made the capsule `spec` asks for, or undefined (none fits, or the claim failed). */
  async claim(spec: CreateSpec, shape: CapsuleShape): Promise<CapsuleRecord | undefined> {
    const { kit } = this;
    if (!this.pool) return undefined;
    const live = kit.registry
      .all()
      .find((c) => c.record.status === 'warm' && c.record.template === spec.template && c.record.diskSizeBytes === shape.diskSizeBytes && c.record.egress === spec.egress);
    if (!live) return undefined;
    const { record } = live;
    const warmId = record.id;
    kit.registry.remove(warmId);
    kit.registry.transition(live, 'warm', 'starting');
    const started = Date.now();
    // Refill a little later: starting the replacement competes for CPU with the caller's
    // first commands, which are what the warm pool exists to make fast.
    this.pool.kick(WARM_REFILL_DELAY_MS);
    try {
      if (record.vcpus !== shape.vcpus || record.memoryMb !== shape.memoryMb) {
        await kit.runtime.update(record.runtimeId, { vcpus: shape.vcpus, memoryMb: shape.memoryMb, pidsMax: kit.settings.pidsMax });
      }
      const token = newAccessToken();
      await live.envd!.init({
        accessToken: token,
        envVars: spec.envs,
        metadata: spec.metadata,
        capsuleId: spec.capsuleId,
        templateId: spec.template,
        ...(spec.defaultUser ? { defaultUser: spec.defaultUser } : {}),
        ...(spec.workdir ? { defaultWorkdir: spec.workdir } : {}),
      });
      Object.assign(record, claimedRecord(record, spec, shape, token));
      // Warm capsules wait with open egress: the caller's lists apply before it sees the capsule.
      if (record.egressRules) await kit.network.setEgressPolicy(kit.network.slot(record.netSlot), plumbOptions(kit, record));
      kit.registry.transition(live, 'starting', 'running');
      kit.registry.add(live);
      await kit.registry.save(record);
      kit.watchers.start(live);
      kit.logger.info({ capsuleId: record.id, warmId, durationMs: Date.now() - started }, 'warm capsule claimed');
      return record;
    } catch (err) {
      kit.logger.warn({ capsuleId: spec.capsuleId, warmId, err: (err as Error).message }, 'warm capsule claim failed; starting cold');
      await destroyCapsule(kit, this.pauser, live).catch(() => {});
      return undefined;
    }
  }
}
