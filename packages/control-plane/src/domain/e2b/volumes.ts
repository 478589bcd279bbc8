/**
 * E2B volumes: a team's persistent volumes, each an ext4 image on one host (the host agent
 * makes and mounts it). A sandbox names volumes at create (`volumeMounts`: name + path);
 * it is then placed on the volume's host and holds the volume until it is killed (paused
 * included): one sandbox at a time, a second one is refused (409), as are the content
 * calls and the volume's deletion while it is held. Volumes outlive their sandboxes.
 *
 * The content API (`/volumecontent/...`) is authorised by the volume's token, not an API
 * key: an HMAC of the volume id under a key derived from the control plane's secret, so a
 * token opens its own volume and no other, and dies with the volume.
 */
import { createHmac, hkdfSync, randomBytes, timingSafeEqual } from 'node:crypto';
import { sql } from 'kysely';
import { WrennError } from '@wrenn/shared';
import type { ControlPlaneContext } from '../../context.js';
import type { E2bVolumesTable } from '../../db/schema.js';
import type { Selectable } from 'kysely';
import type { AgentClient } from '../../infra/agent-pool.js';

export type VolumeRow = Selectable<E2bVolumesTable>;

export interface VolumeInfo {
  volumeID: string;
  name: string;
}

export interface VolumeAndToken extends VolumeInfo {
  token: string;
}

/** Capsule statuses in which a sandbox still holds its volumes. */
const HOLDING = ['starting', 'running', 'pausing', 'paused', 'resuming', 'stopping', 'missing'] as const;

function tokenKey(ctx: ControlPlaneContext): Buffer {
  return Buffer.from(hkdfSync('sha256', Buffer.from(ctx.config.jwtSecret), Buffer.alloc(0), Buffer.from('wrenn e2b volume token v1'), 32));
}

export function volumeToken(ctx: ControlPlaneContext, volumeId: string): string {
  return `vt1.${createHmac('sha256', tokenKey(ctx)).update(volumeId).digest('base64url')}`;
}

function tokenMatches(ctx: ControlPlaneContext, volumeId: string, token: string): boolean {
  const want = Buffer.from(volumeToken(ctx, volumeId));
  const got = Buffer.from(token);
  return want.length === got.length && timingSafeEqual(want, got);
}

function notFound(id: string): WrennError {
  return new WrennError('volume_not_found', `volume ${id} not found`, { volumeId: id });
}

function newVolumeId(): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789';
  let out = 'vol-';
  for (const b of randomBytes(16)) out += alphabet[b % alphabet.length];
  return out;
}

async function agentOfHost(ctx: ControlPlaneContext, hostId: string): Promise<AgentClient> {
  const host = await ctx.db.selectFrom('hosts').selectAll().where('id', '=', hostId).executeTakeFirst();
  if (!host) throw new WrennError('unavailable', `the host holding this volume (${hostId}) is not registered any more`);
  return ctx.agents.get(host.id, host.agent_url, host.agent_token);
}

export async function volumeAgent(ctx: ControlPlaneContext, volume: VolumeRow): Promise<AgentClient> {
  return agentOfHost(ctx, volume.host_id);
}

export async function createVolume(ctx: ControlPlaneContext, teamId: string, name: string): Promise<VolumeAndToken> {
  const taken = await ctx.db.selectFrom('e2b_volumes').select('id').where('team_id', '=', teamId).where('name', '=', name).executeTakeFirst();
  if (taken) throw new WrennError('conflict', `a volume named ${JSON.stringify(name)} exists in this team: use it, or destroy it first`);
  const sizeMb = ctx.config.volumeSizeMb;
  // A volume lives on one host; it is placed like a capsule of no CPU or memory and its disk size.
  const host = await ctx.scheduler.pick({ vcpus: 0, memoryMb: 0, diskSizeMb: sizeMb, teamId });
  const id = newVolumeId();
  await ctx.db.insertInto('e2b_volumes').values({ id, team_id: teamId, name, host_id: host.id, size_mb: sizeMb }).execute();
  try {
    const agent = ctx.agents.get(host.id, host.agent_url, host.agent_token);
    await agent.createVolume({ volumeId: id, sizeMb }, { timeoutMs: ctx.config.agentTimeoutMs });
  } catch (err) {
    await ctx.db.deleteFrom('e2b_volumes').where('id', '=', id).execute().catch(() => {});
    throw err;
  }
  ctx.logger.info({ teamId, volumeId: id, hostId: host.id }, 'volume created');
  return { volumeID: id, name, token: volumeToken(ctx, id) };
}

export async function teamVolume(ctx: ControlPlaneContext, teamId: string, id: string): Promise<VolumeRow> {
  const row = await ctx.db.selectFrom('e2b_volumes').selectAll().where('id', '=', id).executeTakeFirst();
  if (!row || row.team_id !== teamId) throw notFound(id);
  return row;
}

export async function getVolume(ctx: ControlPlaneContext, teamId: string, id: string): Promise<VolumeAndToken> {
  const row = await teamVolume(ctx, teamId, id);
  return { volumeID: row.id, name: row.name, token: volumeToken(ctx, row.id) };
}

export async function listVolumes(ctx: ControlPlaneContext, teamId: string): Promise<VolumeInfo[]> {
  const rows = await ctx.db.selectFrom('e2b_volumes').select(['id', 'name']).where('team_id', '=', teamId).orderBy('created_at').orderBy('id').execute();
  return rows.map((r) => ({ volumeID: r.id, name: r.name }));
}

/** The sandbox holding the volume, if one does. */
export async function holderOf(ctx: ControlPlaneContext, volumeId: string): Promise<string | undefined> {
  const row = await ctx.db
    .selectFrom('e2b_sandbox_volumes')
    .innerJoin('capsules', 'capsules.id', 'e2b_sandbox_volumes.capsule_id')
    .select('capsules.id')
    .where('e2b_sandbox_volumes.volume_id', '=', volumeId)
    .where('capsules.status', 'in', [...HOLDING])
    .executeTakeFirst();
  return row?.id;
}

function inUse(volumeId: string, sandboxId: string, what: string): WrennError {
  return new WrennError('volume_in_use', `cannot ${what} volume ${volumeId}: sandbox ${sandboxId} has it mounted (one sandbox at a time); kill that sandbox first`, {
    volumeId,
    capsuleId: sandboxId,
  });
}

export async function deleteVolume(ctx: ControlPlaneContext, teamId: string, id: string): Promise<void> {
  const row = await teamVolume(ctx, teamId, id);
  const holder = await holderOf(ctx, id);
  if (holder) throw inUse(id, holder, 'delete');
  const agent = await volumeAgent(ctx, row);
  await agent.deleteVolume({ volumeId: id }, { timeoutMs: ctx.config.agentTimeoutMs });
  await ctx.db.deleteFrom('e2b_volumes').where('id', '=', id).execute();
  ctx.logger.info({ teamId, volumeId: id }, 'volume deleted');
}

export interface ResolvedMounts {
  hostId: string;
  mounts: { volumeId: string; name: string; path: string }[];
}

/**
 * The team's volumes a new sandbox names (by name), all on one host and none held by
 * another sandbox; undefined when it names none.
 */
export async function resolveVolumeMounts(ctx: ControlPlaneContext, teamId: string, wanted: readonly { name: string; path: string }[]): Promise<ResolvedMounts | undefined> {
  if (wanted.length === 0) return undefined;
  const names = [...new Set(wanted.map((w) => w.name))];
  if (names.length !== wanted.length) throw new WrennError('invalid_argument', 'volumeMounts names a volume twice');
  const rows = await ctx.db.selectFrom('e2b_volumes').selectAll().where('team_id', '=', teamId).where('name', 'in', names).execute();
  const byName = new Map(rows.map((r) => [r.name, r]));
  const mounts = wanted.map((w) => {
    const row = byName.get(w.name);
    if (!row) throw new WrennError('volume_not_found', `volume ${JSON.stringify(w.name)} not found: create it first (Volume.create)`, { volume: w.name });
    return { volumeId: row.id, name: row.name, path: w.path, hostId: row.host_id };
  });
  const hosts = new Set(mounts.map((m) => m.hostId));
  if (hosts.size > 1) throw new WrennError('invalid_argument', 'the volumes named live on different hosts, so no sandbox can mount them all: mount them in separate sandboxes');
  for (const m of mounts) {
    const holder = await holderOf(ctx, m.volumeId);
    if (holder) throw inUse(m.name, holder, 'mount');
  }
  return { hostId: mounts[0]!.hostId, mounts: mounts.map(({ volumeId, name, path }) => ({ volumeId, name, path })) };
}

export async function recordVolumeMounts(ctx: ControlPlaneContext, capsuleId: string, mounts: ResolvedMounts['mounts']): Promise<void> {
  if (mounts.length === 0) return;
  await ctx.db
    .insertInto('e2b_sandbox_volumes')
    .values(mounts.map((m) => ({ capsule_id: capsuleId, volume_id: m.volumeId, name: m.name, path: m.path })))
    .execute();
}

/** Volume mounts of sandboxes, by sandbox id (for the sandbox views). */
export async function mountsOf(ctx: ControlPlaneContext, capsuleIds: readonly string[]): Promise<Map<string, { name: string; path: string }[]>> {
  const out = new Map<string, { name: string; path: string }[]>();
  if (capsuleIds.length === 0) return out;
  const rows = await ctx.db.selectFrom('e2b_sandbox_volumes').select(['capsule_id', 'name', 'path']).where('capsule_id', 'in', [...capsuleIds]).orderBy(sql`path`).execute();
  for (const r of rows) out.set(r.capsule_id, [...(out.get(r.capsule_id) ?? []), { name: r.name, path: r.path }]);
  return out;
}

/** The volume a content call names, when `token` is its token (404 otherwise: a wrong token reveals nothing). */
export async function volumeByToken(ctx: ControlPlaneContext, id: string, token: string | undefined): Promise<VolumeRow> {
  if (!token) throw new WrennError('unauthenticated', 'volume content calls need the volume token as Authorization: Bearer <token> (from Volume.create or Volume.getInfo)');
  if (!tokenMatches(ctx, id, token)) throw new WrennError('unauthenticated', 'the volume token does not open this volume');
  const row = await ctx.db.selectFrom('e2b_volumes').selectAll().where('id', '=', id).executeTakeFirst();
  if (!row) throw notFound(id);
  return row;
}

/** Refuses a content call while a sandbox holds the volume (the agent checks too). */
export async function assertContentFree(ctx: ControlPlaneContext, volume: VolumeRow): Promise<void> {
  const holder = await holderOf(ctx, volume.id);
  if (holder) throw inUse(volume.id, holder, 'read or write the files of');
}
