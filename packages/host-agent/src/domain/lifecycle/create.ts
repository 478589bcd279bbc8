/**
 * Creating a capsule (inside its queue): a retried Create returns the capsule it made; a
 * snapshot template's capsule continues from its memory; otherwise a warm capsule is
 * claimed when one fits, else one is started cold. The rules (defaults, limits, capacity)
 * are create-rules.ts; the start itself is capsules/launch.ts or
 * snapshot-templates/create-from-snapshot.ts.
 */
import { WrennError } from '@wrenn/shared';
import type { CapsuleRecord } from '../capsule-record.js';
import type { PauseController } from '../pause/pause-controller.js';
import { launchFromSnapshot } from '../snapshot-templates/create-from-snapshot.js';
import type { SnapshotTemplates } from '../snapshot-templates/snapshot-templates.js';
import { baseRecord, baseShape, checkCapacity, cloneRecord, cloneShape, type CapsuleShape, type CreateSpec } from './create-rules.js';
import type { CapsuleKit } from '../capsules/kit.js';
import { launchCapsule, newAccessToken } from '../capsules/launch.js';
import type { LiveCapsule } from '../capsules/registry.js';
import type { TemplateInfo } from '../ports.js';

export interface CreateParts {
  kit: CapsuleKit;
  pauser: PauseController;
  snapshotTemplates: SnapshotTemplates;
  /** The warm pool (warm.ts): a capsule that fits, or undefined. */
  warm: { claim(spec: CreateSpec, shape: CapsuleShape): Promise<CapsuleRecord | undefined> };
}

export async function createCapsule(parts: CreateParts, spec: CreateSpec, signal?: AbortSignal): Promise<CapsuleRecord> {
  const { kit, snapshotTemplates } = parts;
  const existing = kit.registry.find(spec.capsuleId);
  if (existing) {
    // A retried Create (same id) returns the capsule instead of making a second one.
    if (existing.record.template === spec.template) return existing.record;
    throw new WrennError('already_exists', `capsule ${spec.capsuleId} already exists with template ${existing.record.template}`);
  }
  if (await snapshotTemplates.find(spec.template)) {
    if (spec.volumes.length) throw new WrennError('invalid_argument', `volumes cannot be mounted into a capsule continuing from snapshot template ${spec.template}: its memory was saved without them`);
    return startFromSnapshot(parts, spec, signal);
  }
  const template = await kit.templates.get(spec.template);
  const shape = baseShape(spec, template, kit.settings.defaultRootfsSizeBytes);
  checkCapacity(shape, kit.host, committedMemoryMb(kit), kit.settings.memoryOvercommit);
  // A warm capsule started without the volumes: those are bound in at start only.
  const claimed = spec.volumes.length ? undefined : await parts.warm.claim(spec, shape);
  if (claimed) return claimed;
  return startCold(kit, spec, spec.capsuleId, template, shape, false, signal);
}

/** Memory promised to the capsules callers see (warm ones are not counted). */
export function committedMemoryMb(kit: Pick<CapsuleKit, 'registry'>): number {
  return kit.registry.records().reduce((a, r) => a + r.memoryMb, 0);
}

/** A capsule started from a base template; `warm` ones wait in the warm pool (claimable only once running). */
export async function startCold(
  kit: CapsuleKit,
  spec: CreateSpec,
  runtimeId: string,
  template: TemplateInfo,
  shape: CapsuleShape,
  warm: boolean,
  signal?: AbortSignal,
): Promise<CapsuleRecord> {
  const slot = kit.network.allocate();
  const record = baseRecord(spec, runtimeId, template, shape, slot, newAccessToken(), warm);
  const live: LiveCapsule = { record, lastActivityMs: Date.now() };
  kit.registry.add(live);
  try {
    live.envd = await launchCapsule(kit, record, template, slot, signal);
  } catch (err) {
    kit.registry.remove(record.id);
    kit.network.release(slot.index);
    throw err;
  }
  kit.registry.transition(live, 'starting', warm ? 'warm' : 'running');
  if (!warm) kit.watchers.start(live);
  await kit.registry.save(record);
  return record;
}

/**
 * A capsule continuing from a snapshot template's memory, with its own disk copy,
 * address, id and token (see snapshot-templates/create-from-snapshot.ts).
 */
async function startFromSnapshot(parts: CreateParts, spec: CreateSpec, signal?: AbortSignal): Promise<CapsuleRecord> {
  const { kit, snapshotTemplates: snaps } = parts;
  const source = await snaps.acquire(spec.template);
  let pagesLoaded: Promise<void> | undefined;
  try {
    const shape = cloneShape(spec, source.meta);
    checkCapacity(shape, kit.host, committedMemoryMb(kit), kit.settings.memoryOvercommit);
    const slot = kit.network.allocate();
    const record = cloneRecord(spec, source.meta, shape, slot, newAccessToken());
    const live: LiveCapsule = { record, lastActivityMs: Date.now() };
    kit.registry.add(live);
    try {
      const launched = await launchFromSnapshot(kit, record, source, slot, (p) => (pagesLoaded = p), signal);
      live.envd = launched.envd;
    } catch (err) {
      kit.registry.remove(record.id);
      kit.network.release(slot.index);
      throw err;
    }
    if (pagesLoaded) parts.pauser.trackLoading(record.runtimeId, pagesLoaded);
    kit.registry.transition(live, 'starting', 'running');
    await kit.registry.save(record);
    kit.watchers.start(live);
    return record;
  } finally {
    snaps.release(spec.template, pagesLoaded);
  }
}
