/**
 * Snapshot templates of a team: a running capsule's memory and disk, saved on its host
 * (the agent's Snapshot RPC; the capsule keeps running), recorded in `templates` so that
 * creating a capsule from the name is placed on that host. Snapshot names belong to
 * their team (another team may use the same name, and cannot learn that it does): on the
 * host each snapshot has its own opaque name (`host_name`).
 */
import { randomBytes } from 'node:crypto';
import { WrennError } from '@wrenn/shared';
import { asWrennError } from '@wrenn/shared/connect';
import { TemplateKind, type Template } from '@wrenn/proto/hostagent';
import type { ControlPlaneContext } from '../context.js';
import { agentFor, assertStatus, getTeamCapsule } from './capsule-access.js';
import { emitEvent } from './channels/events.js';

export const SNAPSHOT_NAME = /^[a-z0-9][a-z0-9._-]{0,62}$/;

export interface SnapshotView {
  name: string;
  type: 'base' | 'snapshot';
  vcpus: number | null;
  memory_mb: number | null;
  capsule_id: string | null;
  host_id: string | null;
  size_bytes: number;
  memory_bytes: number;
  base_template: string | null;
  default_user: string | null;
  created_at: string;
}

function view(t: Template, hostId: string | null, size?: { vcpus: number; memory_mb: number }): SnapshotView {
  return {
    name: t.name,
    type: t.kind === TemplateKind.SNAPSHOT ? 'snapshot' : 'base',
    vcpus: size ? size.vcpus : null,
    memory_mb: size ? size.memory_mb : null,
    capsule_id: t.sourceCapsuleId || null,
    host_id: hostId,
    size_bytes: Number(t.sizeBytes),
    memory_bytes: Number(t.memoryBytes),
    base_template: t.baseTemplate || null,
    default_user: t.defaultUser || null,
    created_at: new Date(Number(t.createdAtMs) || Date.now()).toISOString(),
  };
}

export async function createSnapshot(
  ctx: ControlPlaneContext,
  teamId: string,
  input: { capsuleId: string; name?: string | undefined; overwrite: boolean },
): Promise<SnapshotView> {
  const capsule = await getTeamCapsule(ctx, teamId, input.capsuleId);
  assertStatus(capsule, ['running'], 'snapshot');
  const name = input.name ?? `${capsule.id.replace(/^cl-/, 'snap-')}-${Date.now().toString(36)}`;
  if (!SNAPSHOT_NAME.test(name)) {
    throw new WrennError('invalid_argument', `snapshot name ${JSON.stringify(name)} must be 1-63 of a-z 0-9 . _ - starting with a letter or digit`);
  }
  const existing = await ctx.db
    .selectFrom('templates')
    .select(['name', 'team_id', 'kind', 'host_name'])
    .where('name', '=', name)
    .where((eb) => eb.or([eb('team_id', '=', teamId), eb('team_id', 'is', null)]))
    .execute();
  let hostName: string | undefined;
  for (const t of existing) {
    if (t.team_id === null || t.kind !== 'snapshot') throw new WrennError('conflict', `${JSON.stringify(name)} is the name of a base template: choose another name`);
    if (!input.overwrite) throw new WrennError('conflict', `snapshot ${JSON.stringify(name)} exists: pass ?overwrite=true to replace it`);
    hostName = t.host_name ?? t.name;
  }
  hostName ??= `s-${randomBytes(12).toString('hex')}`;
  const agent = await agentFor(ctx, capsule);
  const res = await agent.snapshot({ capsuleId: capsule.id, name: hostName, overwrite: input.overwrite });
  const t = res.template;
  if (!t) throw new WrennError('internal', 'the host did not describe the snapshot it made');
  await ctx.db.deleteFrom('templates').where('name', '=', name).where('team_id', '=', teamId).execute();
  await ctx.db
    .insertInto('templates')
    .values({
      name,
      team_id: teamId,
      kind: 'snapshot',
      host_id: capsule.host_id,
      host_name: hostName,
      size_bytes: String(t.sizeBytes),
      default_user: t.defaultUser || null,
      default_env: JSON.stringify({}),
    })
    .execute();
  await emitEvent(ctx, [teamId], 'template.snapshot.created', { id: name, type: 'template' }, { capsule_id: capsule.id, host_id: capsule.host_id });
  return { ...view(t, capsule.host_id, { vcpus: Math.ceil(Number(capsule.vcpus)), memory_mb: capsule.memory_mb }), name };
}

/**
 * The name the host knows a team's template by: its snapshot's own host name, or the name
 * itself (a base template).
 */
export async function hostTemplateName(ctx: ControlPlaneContext, teamId: string, name: string): Promise<string> {
  const row = await ctx.db.selectFrom('templates').select(['host_name']).where('name', '=', name).where('team_id', '=', teamId).where('kind', '=', 'snapshot').executeTakeFirst();
  return row?.host_name ?? name;
}

/** Base templates (from the hosts that are up) and the team's snapshots. */
export async function listSnapshots(ctx: ControlPlaneContext, teamId: string, type?: 'base' | 'snapshot'): Promise<SnapshotView[]> {
  const out: SnapshotView[] = [];
  if (type !== 'snapshot') {
    const hosts = await ctx.db.selectFrom('hosts').select(['id', 'agent_url', 'agent_token']).where('status', '=', 'up').execute();
    // Templates a build made for another team live on hosts too: never listed to this team.
    const others = await ctx.db.selectFrom('templates').select('name').where('team_id', 'is not', null).where('team_id', '<>', teamId).execute();
    const seen = new Set<string>(others.map((o) => o.name));
    const lists = await Promise.allSettled(
      hosts.map(async (h) => ({ h, res: await ctx.agents.get(h.id, h.agent_url, h.agent_token).listTemplates({}, { timeoutMs: 10_000 }) })),
    );
    for (const l of lists) {
      if (l.status !== 'fulfilled') continue;
      for (const t of l.value.res.templates) {
        if (t.kind !== TemplateKind.SNAPSHOT && !seen.has(t.name)) {
          seen.add(t.name);
          out.push(view(t, null));
        }
      }
    }
  }
  if (type !== 'base') {
    const rows = await ctx.db.selectFrom('templates').selectAll().where('team_id', '=', teamId).where('kind', '=', 'snapshot').orderBy('created_at', 'desc').execute();
    for (const r of rows) {
      out.push({
        name: r.name,
        type: 'snapshot',
        vcpus: null,
        memory_mb: null,
        capsule_id: null,
        host_id: r.host_id,
        size_bytes: Number(r.size_bytes),
        memory_bytes: 0,
        base_template: null,
        default_user: r.default_user,
        created_at: r.created_at.toISOString(),
      });
    }
  }
  return out;
}

export async function deleteSnapshot(ctx: ControlPlaneContext, teamId: string, name: string): Promise<void> {
  const row = await ctx.db.selectFrom('templates').selectAll().where('name', '=', name).where('team_id', '=', teamId).executeTakeFirst();
  if (!row || row.kind !== 'snapshot') throw new WrennError('template_not_found', `snapshot ${JSON.stringify(name)} not found`);
  if (row.host_id) {
    const host = await ctx.db.selectFrom('hosts').select(['id', 'agent_url', 'agent_token', 'status']).where('id', '=', row.host_id).executeTakeFirst();
    if (host && host.status !== 'down') {
      try {
        await ctx.agents.get(host.id, host.agent_url, host.agent_token).deleteTemplate({ name: row.host_name ?? row.name });
      } catch (err) {
        // Already gone from the host: the record goes too. Anything else is reported. The agent
        // client decodes its errors once (@wrenn/shared/connect), so the code is read, not the text.
        const code = asWrennError(err).code;
        if (code !== 'template_not_found' && code !== 'not_found') throw err;
      }
    }
  }
  const gone = await ctx.db.deleteFrom('templates').where('name', '=', name).where('team_id', '=', teamId).executeTakeFirst();
  if (Number(gone.numDeletedRows) > 0) await emitEvent(ctx, [teamId], 'template.snapshot.deleted', { id: name, type: 'template' }, {});
}
