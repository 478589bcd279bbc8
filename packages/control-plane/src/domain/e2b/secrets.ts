/**
 * Team secrets (E2B's `Secret`): a name, a write-only value (sealed at rest, never
 * returned), metadata and a version that counts updates. A sandbox names a secret with
 * E2B's placeholder `${e2b.secrets.<name>}` in an environment variable's value; create
 * replaces it with the value, so the secret reaches the sandbox and nothing else.
 */
import { sql } from 'kysely';
import { WrennError } from '@wrenn/shared';
import type { ControlPlaneContext } from '../../context.js';
import type { Selectable } from 'kysely';
import type { E2bSecretsTable } from '../../db/schema.js';
import { newId } from '../ids.js';

type SecretRow = Selectable<E2bSecretsTable>;

export interface SecretInfo {
  secretID: string;
  name: string;
  currentVersion: number;
  metadata: Record<string, string>;
  createdAt: string;
  updatedAt: string;
}

/** The row's identity the sealed value is bound to (a value moved to another row fails to open). */
function bound(row: { id: string; team_id: string }): string {
  return `${row.team_id}/${row.id}`;
}

function view(r: SecretRow): SecretInfo {
  return {
    secretID: r.id,
    name: r.name,
    currentVersion: r.version,
    metadata: r.metadata,
    createdAt: new Date(r.created_at).toISOString(),
    updatedAt: new Date(r.updated_at).toISOString(),
  };
}

function notFound(ref: string): WrennError {
  return new WrennError('not_found', `secret ${ref} not found`);
}

/** By id or by name: the SDK takes either. */
async function find(ctx: ControlPlaneContext, teamId: string, ref: string): Promise<SecretRow> {
  const row = await ctx.db
    .selectFrom('e2b_secrets')
    .selectAll()
    .where('team_id', '=', teamId)
    .where((eb) => eb.or([eb('id', '=', ref), eb('name', '=', ref)]))
    .executeTakeFirst();
  if (!row) throw notFound(ref);
  return row;
}

export async function createSecret(ctx: ControlPlaneContext, teamId: string, input: { name: string; value: string; metadata: Record<string, string> }): Promise<SecretInfo> {
  const id = newId('sec');
  const exists = await ctx.db.selectFrom('e2b_secrets').select('id').where('team_id', '=', teamId).where('name', '=', input.name).executeTakeFirst();
  if (exists) throw new WrennError('conflict', `a secret named ${JSON.stringify(input.name)} exists: update it, or delete it first`);
  const row = await ctx.db
    .insertInto('e2b_secrets')
    .values({ id, team_id: teamId, name: input.name, value_sealed: ctx.secretBox.seal(input.value, bound({ id, team_id: teamId })), metadata: JSON.stringify(input.metadata) })
    .returningAll()
    .executeTakeFirstOrThrow();
  return view(row);
}

export async function updateSecret(ctx: ControlPlaneContext, teamId: string, ref: string, input: { value: string; metadata?: Record<string, string> }): Promise<SecretInfo> {
  const current = await find(ctx, teamId, ref);
  const row = await ctx.db
    .updateTable('e2b_secrets')
    .set({
      value_sealed: ctx.secretBox.seal(input.value, bound(current)),
      ...(input.metadata ? { metadata: JSON.stringify(input.metadata) } : {}),
      version: sql`version + 1` as never,
      updated_at: sql`now()` as never,
    })
    .where('id', '=', current.id)
    .returningAll()
    .executeTakeFirstOrThrow();
  return view(row);
}

export async function getSecret(ctx: ControlPlaneContext, teamId: string, ref: string): Promise<SecretInfo> {
  return view(await find(ctx, teamId, ref));
}

export async function listSecrets(ctx: ControlPlaneContext, teamId: string, q: { limit: number; offset: number }): Promise<{ items: SecretInfo[]; more: boolean }> {
  const rows = await ctx.db.selectFrom('e2b_secrets').selectAll().where('team_id', '=', teamId).orderBy('name').offset(q.offset).limit(q.limit + 1).execute();
  return { items: rows.slice(0, q.limit).map(view), more: rows.length > q.limit };
}

export async function deleteSecret(ctx: ControlPlaneContext, teamId: string, ref: string): Promise<void> {
  const row = await find(ctx, teamId, ref);
  await ctx.db.deleteFrom('e2b_secrets').where('id', '=', row.id).execute();
}

const PLACEHOLDER = /\$\{e2b\.secrets\.([^{}]+)\}/g;

/** `envs` with every `${e2b.secrets.<name>}` replaced by that team secret's value; an unknown name is a 400. */
export async function resolveSecretPlaceholders(ctx: ControlPlaneContext, teamId: string, envs: Record<string, string>): Promise<Record<string, string>> {
  const names = new Set<string>();
  for (const v of Object.values(envs)) for (const m of v.matchAll(PLACEHOLDER)) names.add(m[1]!);
  if (names.size === 0) return envs;
  const rows = await ctx.db.selectFrom('e2b_secrets').selectAll().where('team_id', '=', teamId).where('name', 'in', [...names]).execute();
  const values = new Map(rows.map((r) => [r.name, ctx.secretBox.open(r.value_sealed, bound(r))]));
  const missing = [...names].filter((n) => !values.has(n));
  if (missing.length) throw new WrennError('invalid_argument', `envs name secrets that do not exist: ${missing.join(', ')} (create them with Secret.create)`);
  return Object.fromEntries(Object.entries(envs).map(([k, v]) => [k, v.replace(PLACEHOLDER, (_m, name: string) => values.get(name)!)]));
}
