/**
 * Builds as the API sees them: create (everything checked before any capsule starts:
 * recipe or Dockerfile, healthcheck, name, context archive and the COPY sources in it),
 * list, get, cancel. A scope is either an administrator (platform templates, every
 * build) or a team (its own builds and templates); another team's build is a 404.
 */
import { sql } from 'kysely';
import { WrennError, parseDockerfile, parseHealthcheck } from '@wrenn/shared';
import type { ControlPlaneContext } from '../../context.js';
import type { Build } from '../../db/schema.js';
import { newId } from '../ids.js';
import { SNAPSHOT_NAME } from '../snapshots.js';
import { readContextArchive } from './context-archive.js';
import { checkCopySources } from './context-copy.js';
import { planBuild } from './plan.js';
import { buildView, type BuildSpec, type BuildView } from './views.js';

export type BuildScope = { admin: true } | { admin: false; teamId: string };

export interface CreateBuildInput {
  name: string;
  base_template?: string | undefined;
  recipe?: string[] | undefined;
  /** A Dockerfile instead of recipe lines (its FROM is the base template). */
  dockerfile?: string | undefined;
  healthcheck?: string | undefined;
  vcpus?: number | undefined;
  memory_mb?: number | undefined;
  skip_pre_post?: boolean | undefined;
  archive?: Buffer | undefined;
  createdBy?: string | null;
  /** The id to give the build (the e2b builder hands it out before the build is created). */
  id?: string | undefined;
}

/** Names the agents build themselves: never a build's result. */
const RESERVED = new Set(['minimal', 'busybox', 'base']);
/** Steps after the plan: sync, then saving the template. */
const FINAL_STEPS = 2;

export async function createBuild(ctx: ControlPlaneContext, scope: BuildScope, input: CreateBuildInput): Promise<BuildView> {
  const name = input.name;
  if (!SNAPSHOT_NAME.test(name)) throw new WrennError('invalid_argument', `template name ${JSON.stringify(name)} must be 1-63 of a-z 0-9 . _ - starting with a letter or digit`);
  if (RESERVED.has(name)) throw new WrennError('conflict', `the template name ${JSON.stringify(name)} is reserved: choose another name`);

  let baseTemplate = input.base_template;
  let recipe = input.recipe;
  let healthcheck = input.healthcheck;
  if (input.dockerfile !== undefined) {
    if (recipe !== undefined) throw new WrennError('invalid_argument', 'send either `recipe` or `dockerfile`, not both');
    const d = parseDockerfile(input.dockerfile);
    if (baseTemplate !== undefined && baseTemplate !== d.baseTemplate) {
      throw new WrennError('invalid_argument', `base_template ${JSON.stringify(baseTemplate)} differs from the Dockerfile's FROM ${JSON.stringify(d.baseTemplate)}: send one of them`);
    }
    baseTemplate = d.baseTemplate;
    recipe = d.recipe;
    healthcheck ??= d.healthcheck;
  }
  if (!recipe) throw new WrennError('invalid_argument', 'a build needs `recipe` (lines) or `dockerfile`');
  baseTemplate ??= 'minimal';
  if (!SNAPSHOT_NAME.test(baseTemplate)) throw new WrennError('invalid_argument', `base_template ${JSON.stringify(baseTemplate)} is not a template name`);
  if (healthcheck !== undefined) healthcheck = parseHealthcheck(healthcheck);
  const skipPrePost = input.skip_pre_post ?? false;
  const plan = planBuild(recipe, skipPrePost);

  if (input.archive && input.archive.length > ctx.config.buildContextMaxBytes) {
    throw new WrennError('payload_too_large', `the build context is ${input.archive.length} bytes; at most ${ctx.config.buildContextMaxBytes} are accepted (WRENN_BUILD_CONTEXT_MAX_BYTES)`);
  }
  const context = input.archive ? await readContextArchive(input.archive) : undefined;
  for (const p of plan) if (p.step.kind === 'copy') checkCopySources(context, p.step.line, p.step.sources);

  const base = await ctx.db.selectFrom('templates').select(['kind', 'team_id']).where('name', '=', baseTemplate).execute();
  const visible = base.filter((t) => t.team_id === null || (!scope.admin && t.team_id === scope.teamId) || scope.admin);
  if (visible.some((t) => t.kind === 'snapshot')) throw new WrennError('invalid_argument', `base_template ${baseTemplate} is a snapshot template: builds start from base templates`);
  if (base.length > 0 && visible.length === 0) throw new WrennError('template_not_found', `template ${baseTemplate} does not exist`, { template: baseTemplate });

  const taken = await ctx.db.selectFrom('templates').select('name').where('name', '=', name).executeTakeFirst();
  if (taken) throw new WrennError('conflict', `a template named ${JSON.stringify(name)} exists: delete it first or choose another name`);
  const building = await ctx.db.selectFrom('builds').select('id').where('name', '=', name).where('status', 'in', ['pending', 'running']).executeTakeFirst();
  if (building) throw new WrennError('conflict', `build ${building.id} is already building ${JSON.stringify(name)}: wait for it or cancel it`);

  const id = input.id ?? newId('bld');
  const spec: BuildSpec = {
    recipe,
    ...(healthcheck ? { healthcheck } : {}),
    vcpus: input.vcpus ?? 1,
    memory_mb: input.memory_mb ?? 512,
    skip_pre_post: skipPrePost,
  };
  const row = await ctx.db.transaction().execute(async (tx) => {
    const inserted = await tx
      .insertInto('builds')
      .values({
        id,
        team_id: scope.admin ? null : scope.teamId,
        name,
        status: 'pending',
        spec: JSON.stringify(spec),
        total_steps: plan.length + FINAL_STEPS + (healthcheck ? 1 : 0),
        logs: JSON.stringify([]),
        error: null,
        created_by: input.createdBy ?? null,
        base_template: baseTemplate,
        default_env: JSON.stringify({}),
        template_type: null,
        // The capsule id is fixed now, so a retried create on the host is the same capsule.
        capsule_id: `cl-build-${id.slice(4)}`,
      })
      .returningAll()
      .executeTakeFirstOrThrow();
    if (input.archive) await tx.insertInto('build_contexts').values({ build_id: id, data: input.archive }).execute();
    return inserted;
  });
  ctx.logger.info({ buildId: id, template: name, steps: plan.length, contextBytes: input.archive?.length ?? 0 }, 'template build queued');
  ctx.builds.wake();
  return buildView(row);
}

function scoped(ctx: ControlPlaneContext, scope: BuildScope) {
  const q = ctx.db.selectFrom('builds').selectAll();
  return scope.admin ? q : q.where('team_id', '=', scope.teamId);
}

export async function listBuilds(ctx: ControlPlaneContext, scope: BuildScope, limit = 100): Promise<BuildView[]> {
  return (await scoped(ctx, scope).orderBy('created_at', 'desc').limit(limit).execute()).map(buildView);
}

export async function getBuildRow(ctx: ControlPlaneContext, scope: BuildScope, id: string): Promise<Build> {
  const row = await scoped(ctx, scope).where('id', '=', id).executeTakeFirst();
  if (!row) throw new WrennError('build_not_found', `build ${id} does not exist`, { buildId: id });
  return row;
}

export async function getBuild(ctx: ControlPlaneContext, scope: BuildScope, id: string): Promise<BuildView> {
  return buildView(await getBuildRow(ctx, scope, id));
}

/** Cancels a pending or running build; its running step stops at once and its capsule goes. */
export async function cancelBuild(ctx: ControlPlaneContext, scope: BuildScope, id: string): Promise<void> {
  const row = await getBuildRow(ctx, scope, id);
  const updated = await ctx.db
    .updateTable('builds')
    .set({ status: 'cancelled', error: 'cancelled', finished_at: sql`now()` as never, updated_at: sql`now()` as never })
    .where('id', '=', id)
    .where('status', 'in', ['pending', 'running'])
    .returning('id')
    .executeTakeFirst();
  if (!updated) throw new WrennError('conflict', `build ${id} is already ${row.status}: only pending and running builds can be cancelled`, { status: row.status });
  await ctx.db.deleteFrom('build_contexts').where('build_id', '=', id).execute();
  ctx.builds.cancel(id);
  ctx.logger.info({ buildId: id, was: row.status }, 'template build cancelled');
}
