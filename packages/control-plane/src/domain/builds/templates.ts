/**
 * Templates as the builds API lists them (Wrenn's `/v1/admin/templates`): the hosts' own
 * base templates (minimal, ...), platform templates (built by administrators) and, for a
 * team, its own; deleting one is refused while a capsule or a build uses it, so nothing
 * loses its root filesystem from under it.
 */
import { TemplateKind } from '@wrenn/proto/hostagent';
import { WrennError } from '@wrenn/shared';
import { asWrennError } from '@wrenn/shared/connect';
import { emitEvent } from '../channels/events.js';
import type { ControlPlaneContext } from '../../context.js';
import type { BuildScope } from './service.js';

export interface TemplateListing {
  name: string;
  type: 'base' | 'snapshot';
  vcpus: number;
  memory_mb: number;
  size_bytes: number;
  team_id: string | null;
  host_id: string | null;
  build_id: string | null;
  default_user: string | null;
  default_env: Record<string, string>;
  created_at: string;
}

/** Capsule states that hold a template's files (a stopped or failed capsule no longer does). */
const HOLDING = ['pending', 'starting', 'running', 'pausing', 'paused', 'resuming', 'stopping', 'missing'] as const;

export async function listTemplates(ctx: ControlPlaneContext, scope: BuildScope): Promise<TemplateListing[]> {
  const out: TemplateListing[] = [];
  const rowsQuery = ctx.db.selectFrom('templates').selectAll().orderBy('created_at', 'desc');
  const rows = await (scope.admin ? rowsQuery : rowsQuery.where((eb) => eb.or([eb('team_id', 'is', null), eb('team_id', '=', scope.teamId)]))).execute();
  // Every name in the table: a host lists built templates of every team, and those are
  // shown (or not) from their rows below, never from the host's list.
  const recorded = new Set((await ctx.db.selectFrom('templates').select('name').execute()).map((r) => r.name));
  const hosts = await ctx.db.selectFrom('hosts').select(['id', 'agent_url', 'agent_token']).where('status', '=', 'up').execute();
  const lists = await Promise.allSettled(hosts.map((h) => ctx.agents.get(h.id, h.agent_url, h.agent_token).listTemplates({}, { timeoutMs: 10_000 })));
  const seen = new Set<string>();
  for (const l of lists) {
    if (l.status !== 'fulfilled') continue;
    for (const t of l.value.templates) {
      if (t.kind !== TemplateKind.BASE || recorded.has(t.name) || seen.has(t.name)) continue;
      seen.add(t.name);
      out.push({
        name: t.name,
        type: 'base',
        vcpus: 1,
        memory_mb: 512,
        size_bytes: Number(t.sizeBytes),
        team_id: null,
        host_id: null,
        build_id: null,
        default_user: t.defaultUser || null,
        default_env: {},
        created_at: new Date(Number(t.createdAtMs) || 0).toISOString(),
      });
    }
  }
  for (const r of rows) {
    out.push({
      name: r.name,
      type: r.kind,
      vcpus: r.vcpus ?? 1,
      memory_mb: r.memory_mb ?? 512,
      size_bytes: Number(r.size_bytes),
      team_id: r.team_id,
      host_id: r.host_id,
      build_id: r.build_id,
      default_user: r.default_user,
      default_env: r.default_env,
      created_at: r.created_at.toISOString(),
    });
  }
  return out;
}

export async function deleteTemplate(ctx: ControlPlaneContext, scope: BuildScope, name: string): Promise<void> {
  const q = ctx.db.selectFrom('templates').selectAll().where('name', '=', name);
  const row = await (scope.admin ? q.where('team_id', 'is', null) : q.where('team_id', '=', scope.teamId)).executeTakeFirst();
  if (!row) {
    if (name === 'minimal') throw new WrennError('permission_denied', 'the minimal template cannot be deleted');
    throw new WrennError('template_not_found', `template ${JSON.stringify(name)} not found`, { template: name });
  }
  const inUse = await ctx.db
    .selectFrom('capsules')
    .select((e) => e.fn.countAll<string>().as('n'))
    .where('template', '=', name)
    .where('status', 'in', [...HOLDING])
    .executeTakeFirstOrThrow();
  if (Number(inUse.n) > 0) throw new WrennError('conflict', `template ${name} is used by ${inUse.n} capsule(s): destroy them first`, { template: name, capsules: Number(inUse.n) });
  const building = await ctx.db.selectFrom('builds').select('id').where('base_template', '=', name).where('status', 'in', ['pending', 'running']).executeTakeFirst();
  if (building) throw new WrennError('conflict', `template ${name} is the base of build ${building.id}, which has not finished`, { template: name });

  if (row.host_id) {
    const host = await ctx.db.selectFrom('hosts').select(['id', 'agent_url', 'agent_token', 'status']).where('id', '=', row.host_id).executeTakeFirst();
    if (host && host.status !== 'down') {
      const agent = ctx.agents.get(host.id, host.agent_url, host.agent_token);
      // A snapshot is kept on its host under its own opaque name (names are per team).
      const hostName = row.host_name ?? name;
      try {
        if (row.kind === 'snapshot') await agent.deleteTemplate({ name: hostName }, { timeoutMs: ctx.config.agentTimeoutMs });
        else await agent.deleteBaseTemplate({ name: hostName }, { timeoutMs: ctx.config.agentTimeoutMs });
      } catch (err) {
        // The agent client decodes its errors into WrennErrors (one boundary: @wrenn/shared/connect).
        const e = asWrennError(err);
        if (e.code === 'template_not_found' || e.code === 'not_found') {
          // already gone from the host: the record goes too
        } else if (e.code === 'failed_precondition') {
          throw new WrennError('conflict', `template ${name} is in use on its host: ${e.message}`, { template: name });
        } else throw err;
      }
    } else if (host) {
      throw new WrennError('unavailable', `host ${host.id} holding template ${name} is down: delete it when the host is back`);
    }
  }
  const gone = await ctx.db.deleteFrom('templates').where('name', '=', name).where((eb) => (row.team_id ? eb('team_id', '=', row.team_id) : eb('team_id', 'is', null))).executeTakeFirst();
  if (row.team_id && row.kind === 'snapshot' && Number(gone.numDeletedRows) > 0) await emitEvent(ctx, [row.team_id], 'template.snapshot.deleted', { id: name, type: 'template' }, {});
  ctx.logger.info({ template: name, teamId: row.team_id }, 'template deleted');
}
