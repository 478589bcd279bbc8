/**
 * E2B sandboxes on Wrenn capsules. A sandbox is a capsule plus an `e2b_sandboxes` row
 * holding what E2B means and Wrenn's native API does not: an absolute end of life
 * (`timeout`, moved by setTimeout and connect; lifetime.ts acts on it), what happens then
 * (kill or pause), and the templateID the caller named. Only capsules created through the
 * E2B API are sandboxes: native capsules are not listed here (they have no end of life).
 *
 * States: E2B knows `running` and `paused`; a capsule that is stopped, failed or missing
 * is a sandbox that does not exist (404), as a killed E2B sandbox is.
 */
import { sql } from 'kysely';
import { WrennError } from '@wrenn/shared';
import type { ControlPlaneContext } from '../../context.js';
import type { Capsule, CapsuleStatus, E2bSandbox } from '../../db/schema.js';
import { createCapsule, destroyCapsule, type Actor } from '../capsules/lifecycle.js';
import { pauseCapsule, resumeCapsule } from '../capsules/pause.js';
import { resolveTemplate } from './templates.js';
import { ensureShippedTemplate, shippedName } from '../builds/shipped.js';
import { resolveSecretPlaceholders } from './secrets.js';
import { agentEgressOf, checkedNetwork } from './network.js';
import { recordVolumeMounts, resolveVolumeMounts } from './volumes.js';

export type SandboxState = 'running' | 'paused';

/** Capsule statuses a sandbox in each E2B state may be in (moving between them included). */
export const STATUSES_OF: Record<SandboxState, CapsuleStatus[]> = {
  running: ['running', 'starting', 'resuming'],
  paused: ['paused', 'pausing'],
};

export interface SandboxRecord {
  capsule: Capsule;
  sandbox: E2bSandbox;
}

export interface CreateSandboxInput {
  templateId: string;
  timeoutSec: number;
  onTimeout: 'kill' | 'pause';
  autoResume: boolean;
  metadata: Record<string, string>;
  envVars: Record<string, string>;
  secure: boolean;
  allowInternetAccess: boolean;
  /** network.allowOut / denyOut (network.ts); absent = none. */
  allowOut?: string[];
  denyOut?: string[];
  /** The team's volumes (by name) to mount, at these paths. */
  volumeMounts?: { name: string; path: string }[];
}

/** E2B sandboxes get the native API's default size (1 vCPU, 512 MB). */
const SANDBOX_VCPUS = 1;
const SANDBOX_MEMORY_MB = 512;

export function stateOf(capsule: Pick<Capsule, 'status'>): SandboxState | undefined {
  if (STATUSES_OF.running.includes(capsule.status)) return 'running';
  if (STATUSES_OF.paused.includes(capsule.status)) return 'paused';
  return undefined;
}

function notFound(sandboxId: string): WrennError {
  return new WrennError('capsule_not_found', `sandbox ${sandboxId} not found`, { capsuleId: sandboxId });
}

function endAtFrom(timeoutSec: number): Date {
  return new Date(Date.now() + timeoutSec * 1000);
}

/** Creates the capsule, then records the sandbox; a failed record destroys the capsule again. */
export async function createSandbox(ctx: ControlPlaneContext, actor: Actor, input: CreateSandboxInput): Promise<SandboxRecord> {
  const network = checkedNetwork({ allowInternetAccess: input.allowInternetAccess, allowOut: input.allowOut ?? [], denyOut: input.denyOut ?? [] });
  const egress = agentEgressOf(network);
  const resolved = resolveTemplate(shippedName(input.templateId));
  // A shipped template (python, node, code-interpreter) is built on first use.
  await ensureShippedTemplate(ctx, resolved.template);
  // A built template sizes its sandboxes, as E2B's do (cpuCount, memoryMB at build time).
  const sized = await ctx.db
    .selectFrom('templates')
    .select(['vcpus', 'memory_mb', 'default_user', 'default_workdir'])
    .where('name', '=', resolved.template)
    .where('build_id', 'is not', null)
    .where((eb) => eb.or([eb('team_id', '=', actor.teamId), eb('team_id', 'is', null)]))
    .orderBy(sql`team_id is null`)
    .executeTakeFirst();
  const envs = await resolveSecretPlaceholders(ctx, actor.teamId, input.envVars);
  // Volumes pin the sandbox to their host.
  const volumes = await resolveVolumeMounts(ctx, actor.teamId, input.volumeMounts ?? []);
  const capsule = await createCapsule(ctx, actor, {
    template: resolved.template,
    vcpus: sized?.vcpus ?? SANDBOX_VCPUS,
    memoryMb: sized?.memory_mb ?? SANDBOX_MEMORY_MB,
    // E2B's lifetime is absolute (lifetime.ts), not Wrenn's inactivity timer.
    timeoutSec: 0,
    metadata: input.metadata,
    envs,
    autoResume: input.autoResume,
    egress: egress.egress,
    egressRules: { denyOut: egress.denyOut, allowOut: egress.allowOut },
    ...(resolved.defaultUser && resolved.workdir
      ? { identity: { user: resolved.defaultUser, workdir: resolved.workdir } }
      : sized?.default_user && sized.default_workdir
        ? { identity: { user: sized.default_user, workdir: sized.default_workdir } }
        : {}),
    ...(volumes ? { hostId: volumes.hostId, volumes: volumes.mounts.map((m) => ({ volumeId: m.volumeId, path: m.path })) } : {}),
  });
  try {
    if (volumes) await recordVolumeMounts(ctx, capsule.id, volumes.mounts);
    const sandbox = await ctx.db
      .insertInto('e2b_sandboxes')
      .values({
        capsule_id: capsule.id,
        team_id: actor.teamId,
        template_id: input.templateId,
        timeout_sec: input.timeoutSec,
        end_at: endAtFrom(input.timeoutSec),
        on_timeout: input.onTimeout,
        secure: input.secure,
        allow_internet_access: input.allowInternetAccess,
        allow_out: JSON.stringify(network.allowOut),
        deny_out: JSON.stringify(network.denyOut),
      })
      .returningAll()
      .executeTakeFirstOrThrow();
    return { capsule, sandbox };
  } catch (err) {
    await destroyCapsule(ctx, actor.teamId, capsule.id).catch((e: unknown) => ctx.logger.warn({ err: e, capsuleId: capsule.id }, 'could not destroy a sandbox whose record failed'));
    throw err;
  }
}

/** The team's sandbox in any state (stopped ones included); 404 for another team's or a native capsule. */
export async function anySandbox(ctx: ControlPlaneContext, teamId: string, sandboxId: string): Promise<SandboxRecord> {
  const row = await ctx.db
    .selectFrom('e2b_sandboxes')
    .innerJoin('capsules', 'capsules.id', 'e2b_sandboxes.capsule_id')
    .selectAll('capsules')
    .select(SANDBOX_COLUMNS)
    .where('e2b_sandboxes.capsule_id', '=', sandboxId)
    .executeTakeFirst();
  if (!row || row.team_id !== teamId) throw notFound(sandboxId);
  return splitRow(row);
}

/** The e2b_sandboxes columns selected beside a capsule's (prefixed: no clash with its own). */
export const SANDBOX_COLUMNS = [
  'e2b_sandboxes.template_id as e_template_id',
  'e2b_sandboxes.timeout_sec as e_timeout_sec',
  'e2b_sandboxes.end_at as e_end_at',
  'e2b_sandboxes.on_timeout as e_on_timeout',
  'e2b_sandboxes.secure as e_secure',
  'e2b_sandboxes.allow_internet_access as e_allow_internet_access',
  'e2b_sandboxes.allow_out as e_allow_out',
  'e2b_sandboxes.deny_out as e_deny_out',
  'e2b_sandboxes.started_at as e_started_at',
] as const;

type JoinedRow = Capsule & {
  e_template_id: string;
  e_timeout_sec: number;
  e_end_at: Date | null;
  e_on_timeout: 'kill' | 'pause';
  e_secure: boolean;
  e_allow_internet_access: boolean;
  e_allow_out: string[];
  e_deny_out: string[];
  e_started_at: Date;
};

export function splitRow(row: JoinedRow): SandboxRecord {
  const { e_template_id, e_timeout_sec, e_end_at, e_on_timeout, e_secure, e_allow_internet_access, e_allow_out, e_deny_out, e_started_at, ...capsule } = row;
  return {
    capsule,
    sandbox: {
      capsule_id: capsule.id,
      team_id: capsule.team_id,
      template_id: e_template_id,
      timeout_sec: e_timeout_sec,
      end_at: e_end_at,
      on_timeout: e_on_timeout,
      secure: e_secure,
      allow_internet_access: e_allow_internet_access,
      allow_out: e_allow_out,
      deny_out: e_deny_out,
      started_at: e_started_at,
    },
  };
}

/** The team's sandbox while it exists (running or paused); 404 otherwise. */
export async function getSandbox(ctx: ControlPlaneContext, teamId: string, sandboxId: string): Promise<SandboxRecord & { state: SandboxState }> {
  const record = await anySandbox(ctx, teamId, sandboxId);
  const state = stateOf(record.capsule);
  if (!state) throw notFound(sandboxId);
  return { ...record, state };
}

/** Kills a sandbox; an already killed one is a 404 (the SDK's kill() then answers false). */
export async function killSandbox(ctx: ControlPlaneContext, teamId: string, sandboxId: string): Promise<void> {
  const record = await anySandbox(ctx, teamId, sandboxId);
  if (record.capsule.status === 'stopped' || record.capsule.status === 'stopping') throw notFound(sandboxId);
  await destroyCapsule(ctx, teamId, sandboxId);
}

/** A new end of life `timeoutSec` from now (shorter or longer than before). */
export async function setSandboxTimeout(ctx: ControlPlaneContext, teamId: string, sandboxId: string, timeoutSec: number): Promise<void> {
  const { state } = await getSandbox(ctx, teamId, sandboxId);
  await ctx.db
    .updateTable('e2b_sandboxes')
    .set({ timeout_sec: timeoutSec, ...(state === 'running' ? { end_at: endAtFrom(timeoutSec) } : {}) })
    .where('capsule_id', '=', sandboxId)
    .execute();
}

/** Pauses a running sandbox; a paused one is a 409 (the SDK's pause() then answers false). */
export async function pauseSandbox(ctx: ControlPlaneContext, teamId: string, sandboxId: string): Promise<void> {
  const { state } = await getSandbox(ctx, teamId, sandboxId);
  if (state === 'paused') throw new WrennError('conflict', `sandbox ${sandboxId} is already paused`, { capsuleId: sandboxId });
  await pauseCapsule(ctx, teamId, sandboxId);
  await ctx.db.updateTable('e2b_sandboxes').set({ end_at: null }).where('capsule_id', '=', sandboxId).execute();
}

const SETTLE_POLL_MS = 100;

/**
 * The sandbox once it is no longer moving between states (a pause or resume in flight,
 * e.g. its end of life pausing it just now): connect then acts on where it landed.
 */
async function settled(ctx: ControlPlaneContext, teamId: string, record: SandboxRecord & { state: SandboxState }): Promise<SandboxRecord & { state: SandboxState }> {
  const deadline = Date.now() + ctx.config.agentTimeoutMs;
  let current = record;
  while (['pausing', 'resuming', 'starting'].includes(current.capsule.status)) {
    if (Date.now() > deadline) throw new WrennError('capsule_busy', `sandbox ${record.capsule.id} is still ${current.capsule.status}: retry`, { capsuleId: record.capsule.id, status: current.capsule.status });
    await new Promise((r) => setTimeout(r, SETTLE_POLL_MS));
    current = await getSandbox(ctx, teamId, record.capsule.id);
  }
  return current;
}

/**
 * Connects to a sandbox: a paused one is resumed with a fresh lifetime (`resumed`); a
 * running one keeps running, its end of life moved later if `timeoutSec` reaches further.
 */
export async function connectSandbox(
  ctx: ControlPlaneContext,
  teamId: string,
  sandboxId: string,
  timeoutSec: number | undefined,
): Promise<SandboxRecord & { resumed: boolean }> {
  const record = await settled(ctx, teamId, await getSandbox(ctx, teamId, sandboxId));
  const timeout = timeoutSec ?? record.sandbox.timeout_sec;
  if (record.state === 'paused') {
    const capsule = await resumeCapsule(ctx, teamId, sandboxId);
    const sandbox = await ctx.db
      .updateTable('e2b_sandboxes')
      .set({ timeout_sec: timeout, end_at: endAtFrom(timeout), started_at: sql`now()` as never })
      .where('capsule_id', '=', sandboxId)
      .returningAll()
      .executeTakeFirstOrThrow();
    return { capsule, sandbox, resumed: true };
  }
  let sandbox = record.sandbox;
  if (timeoutSec !== undefined) {
    const wanted = endAtFrom(timeoutSec);
    if (!sandbox.end_at || wanted > sandbox.end_at) {
      sandbox = await ctx.db
        .updateTable('e2b_sandboxes')
        .set({ timeout_sec: timeoutSec, end_at: wanted })
        .where('capsule_id', '=', sandboxId)
        .returningAll()
        .executeTakeFirstOrThrow();
    }
  }
  return { capsule: record.capsule, sandbox, resumed: false };
}
