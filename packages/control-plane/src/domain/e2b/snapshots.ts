/**
 * E2B snapshots and forks on Wrenn's snapshot templates (domain/snapshots.ts): a snapshot
 * is a running sandbox's memory and disk saved under a name (the sandbox keeps running);
 * `Sandbox.create(name)` starts a sandbox from it; a fork is a snapshot taken for the
 * occasion, `count` sandboxes started from it, and the snapshot deleted again (sandboxes
 * already started from a snapshot do not need it).
 */
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { WrennError } from '@wrenn/shared';
import { mountsOf } from './volumes.js';
import { asWrennError } from '@wrenn/shared/connect';
import type { ControlPlaneContext } from '../../context.js';
import type { Actor } from '../capsules/lifecycle.js';
import { createSnapshot, deleteSnapshot, SNAPSHOT_NAME } from '../snapshots.js';
import { createSandbox, getSandbox, type SandboxRecord } from './sandboxes.js';

export interface SnapshotInfo {
  snapshotID: string;
  names: string[];
}

/**
 * A sandbox with volumes is neither snapshotted nor forked: every sandbox started from the
 * snapshot would continue writing the same volumes, and a volume has one writer.
 */
async function refuseWithVolumes(ctx: ControlPlaneContext, sandboxId: string, what: string): Promise<void> {
  const mounts = (await mountsOf(ctx, [sandboxId])).get(sandboxId);
  if (mounts?.length) {
    throw new WrennError('invalid_argument', `sandbox ${sandboxId} has volumes mounted (${mounts.map((m) => m.name).join(', ')}): it cannot be a ${what} source, as its copies would share a volume that takes one writer`, { capsuleId: sandboxId });
  }
}

/** Saves a running sandbox as snapshot `name` (default: a fresh name). */
export async function snapshotSandbox(ctx: ControlPlaneContext, teamId: string, sandboxId: string, name: string | undefined): Promise<SnapshotInfo> {
  const { state } = await getSandbox(ctx, teamId, sandboxId);
  if (state !== 'running') throw new WrennError('capsule_busy', `sandbox ${sandboxId} is paused: connect to it before taking a snapshot`, { capsuleId: sandboxId, status: 'paused' });
  await refuseWithVolumes(ctx, sandboxId, 'snapshot');
  if (name !== undefined && !SNAPSHOT_NAME.test(name)) {
    throw new WrennError('invalid_argument', `snapshot name ${JSON.stringify(name)} must be 1-63 of a-z 0-9 . _ - starting with a letter or digit`);
  }
  const snap = await createSnapshot(ctx, teamId, { capsuleId: sandboxId, name, overwrite: false });
  await ctx.db
    .insertInto('e2b_snapshots')
    .values({ name: snap.name, team_id: teamId, sandbox_id: sandboxId })
    .onConflict((oc) => oc.column('name').doUpdateSet({ team_id: teamId, sandbox_id: sandboxId }))
    .execute();
  return { snapshotID: snap.name, names: [snap.name] };
}

/** The team's snapshots, newest first; `sandboxId` keeps those taken from that sandbox. */
export async function listSandboxSnapshots(
  ctx: ControlPlaneContext,
  teamId: string,
  q: { sandboxId?: string; name?: string; limit: number; offset: number },
): Promise<{ items: SnapshotInfo[]; more: boolean }> {
  let query = ctx.db
    .selectFrom('templates')
    .leftJoin('e2b_snapshots', 'e2b_snapshots.name', 'templates.name')
    .select(['templates.name'])
    .where('templates.team_id', '=', teamId)
    .where('templates.kind', '=', 'snapshot');
  if (q.sandboxId) query = query.where('e2b_snapshots.sandbox_id', '=', q.sandboxId);
  if (q.name) query = query.where('templates.name', '=', q.name);
  const rows = await query.orderBy('templates.created_at', 'desc').orderBy('templates.name').offset(q.offset).limit(q.limit + 1).execute();
  return { items: rows.slice(0, q.limit).map((r) => ({ snapshotID: r.name, names: [r.name] })), more: rows.length > q.limit };
}

export async function deleteSandboxSnapshot(ctx: ControlPlaneContext, teamId: string, name: string): Promise<void> {
  await deleteSnapshot(ctx, teamId, name);
  await ctx.db.deleteFrom('e2b_snapshots').where('name', '=', name).execute();
}

/** A started copy, or what stopped that one copy (the route renders it). */
export type ForkResult = { sandbox: SandboxRecord } | { error: unknown };

/** `count` running copies of a sandbox, memory included; each result is a sandbox or why it failed. */
export async function forkSandbox(ctx: ControlPlaneContext, actor: Actor, sandboxId: string, count: number, timeoutSec: number | undefined): Promise<ForkResult[]> {
  const source = await getSandbox(ctx, actor.teamId, sandboxId);
  if (source.state !== 'running') throw new WrennError('capsule_busy', `sandbox ${sandboxId} is paused: connect to it before forking it`, { capsuleId: sandboxId, status: 'paused' });
  await refuseWithVolumes(ctx, sandboxId, 'fork');
  const name = `fork-${randomBytes(6).toString('hex')}`;
  await createSnapshot(ctx, actor.teamId, { capsuleId: sandboxId, name, overwrite: false });
  try {
    return await Promise.all(
      Array.from({ length: count }, async (): Promise<ForkResult> => {
        try {
          const record = await createSandbox(ctx, actor, {
            templateId: name,
            timeoutSec: timeoutSec ?? source.sandbox.timeout_sec,
            onTimeout: source.sandbox.on_timeout,
            autoResume: source.capsule.auto_resume,
            metadata: source.capsule.metadata,
            envVars: {},
            secure: source.sandbox.secure,
            allowInternetAccess: source.sandbox.allow_internet_access,
            allowOut: source.sandbox.allow_out,
            denyOut: source.sandbox.deny_out,
          });
          // Forks report the template the source was made from, as E2B does.
          await ctx.db.updateTable('e2b_sandboxes').set({ template_id: source.sandbox.template_id }).where('capsule_id', '=', record.capsule.id).execute();
          return { sandbox: { ...record, sandbox: { ...record.sandbox, template_id: source.sandbox.template_id } } };
        } catch (err) {
          return { error: err };
        }
      }),
    );
  } finally {
    await deleteWhenUnused(ctx, actor.teamId, name);
  }
}

/**
 * Deletes the snapshot a fork was made from. Its copies may still be reading its memory
 * (a lazy restore goes on after they run), and the host refuses the delete until they are
 * done: so a refusal for that reason is tried again, for up to a minute.
 */
async function deleteWhenUnused(ctx: ControlPlaneContext, teamId: string, name: string): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (let waitMs = 100; ; waitMs = Math.min(waitMs * 2, 2000)) {
    try {
      await deleteSnapshot(ctx, teamId, name);
      return;
    } catch (err) {
      if (asWrennError(err).code !== 'failed_precondition' || Date.now() + waitMs > deadline) {
        ctx.logger.warn({ err, template: name }, 'could not delete the snapshot a fork was made from');
        return;
      }
      await sleep(waitMs);
    }
  }
}
