/**
 * The e2b SDK's template builds, served by Wrenn's builder (domain/builds): the SDK asks
 * for a build (a template id, which is the team's template name, and a build id), uploads
 * the files its COPY steps need (content-addressed: a file already uploaded by the team is
 * not sent again), then starts the build with its steps and polls its status and logs.
 * The build is an ordinary team build: it shows in /v1/builds and its template in
 * /v1/templates, and `Sandbox.create(name)` uses it.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { sql } from 'kysely';
import tarStream from 'tar-stream';
import { WrennError } from '@wrenn/shared';
import type { ControlPlaneContext } from '../../context.js';
import { newId } from '../ids.js';
import { listSnapshots, SNAPSHOT_NAME } from '../snapshots.js';
import { readContextArchive, type ContextEntry } from '../builds/context-archive.js';
import { createBuild, getBuildRow } from '../builds/service.js';
import { ensureShippedTemplate, SHIPPED_TEMPLATES } from '../builds/shipped.js';
import type { BuildLogEntry } from '../builds/views.js';
import { e2bRecipe, type E2bTemplateBody } from './template-recipe.js';
import { resolveTemplate } from './templates.js';

/** Requests never started and uploaded files are kept this long. */
const KEEP_MS = 24 * 3600_000;
/** An upload URL works this long. */
const UPLOAD_URL_MS = 3600_000;
const HASH = /^[0-9a-f]{64}$/;
/** The only tags a Wrenn template has: it has one version. */
const TAGS = new Set(['default', 'latest']);

export interface BuildRequest {
  name?: string | undefined;
  alias?: string | undefined;
  tags?: string[] | undefined;
  cpuCount?: number | undefined;
  memoryMB?: number | undefined;
}

/** `name[:tag]` → the template name; a tag other than default/latest is refused. */
function templateName(raw: string, tags: readonly string[] = []): string {
  const [name, tag, ...more] = raw.split(':');
  for (const t of [...(tag !== undefined ? [tag] : []), ...tags]) {
    if (!TAGS.has(t)) throw new WrennError('invalid_argument', `tag ${JSON.stringify(t)}: a Wrenn template has one version, tagged default (or latest); build another name instead`);
  }
  if (more.length > 0 || !name || !SNAPSHOT_NAME.test(name)) {
    throw new WrennError('invalid_argument', `template name ${JSON.stringify(raw)} must be 1-63 of a-z 0-9 . _ - starting with a letter or digit, optionally :default`);
  }
  if (name === 'base' || SHIPPED_TEMPLATES.has(name)) throw new WrennError('conflict', `the template name ${JSON.stringify(name)} is a template this server ships: choose another name`);
  return name;
}

async function prune(ctx: ControlPlaneContext): Promise<void> {
  const cutoff = new Date(Date.now() - KEEP_MS);
  await ctx.db.deleteFrom('e2b_template_requests').where('created_at', '<', cutoff).execute();
  await ctx.db.deleteFrom('e2b_template_files').where('created_at', '<', cutoff).execute();
}

export async function requestTemplateBuild(ctx: ControlPlaneContext, teamId: string, req: BuildRequest) {
  const raw = req.name ?? req.alias;
  if (!raw) throw new WrennError('invalid_argument', 'a template build needs a name');
  const name = templateName(raw, req.tags);
  await prune(ctx);
  const taken = await ctx.db.selectFrom('templates').select(['team_id']).where('name', '=', name).executeTakeFirst();
  if (taken) {
    throw new WrennError('conflict', taken.team_id === teamId ? `template ${name} exists: delete it first (Template.delete / DELETE /templates/${name}) to build it again` : `the template name ${JSON.stringify(name)} is taken: choose another name`);
  }
  const buildId = newId('bld');
  await ctx.db
    .insertInto('e2b_template_requests')
    .values({ build_id: buildId, team_id: teamId, name, vcpus: req.cpuCount ?? 1, memory_mb: req.memoryMB ?? 512 })
    .execute();
  return { templateID: name, buildID: buildId, public: false, names: [name], aliases: [name], tags: ['default'] };
}

function signature(ctx: ControlPlaneContext, teamId: string, hash: string, exp: number): Buffer {
  return createHmac('sha256', ctx.config.jwtSecret).update(`e2b-template-file\n${teamId}\n${hash}\n${exp}`).digest();
}

/** Whether the team has these files; if not, where to PUT them (a URL signed for this team and hash). */
export async function fileUploadLink(ctx: ControlPlaneContext, teamId: string, hash: string, origin: string) {
  if (!HASH.test(hash)) throw new WrennError('invalid_argument', 'a files hash is 64 lowercase hex digits (sha256)');
  const have = await ctx.db.selectFrom('e2b_template_files').select('hash').where('team_id', '=', teamId).where('hash', '=', hash).executeTakeFirst();
  if (have) return { present: true };
  const exp = Date.now() + UPLOAD_URL_MS;
  const sig = signature(ctx, teamId, hash, exp).toString('base64url');
  const url = `${origin}/template-files/${encodeURIComponent(teamId)}/${hash}?exp=${exp}&sig=${sig}`;
  return { present: false, url, headers: { 'content-type': 'application/octet-stream' } };
}

/** Stores uploaded files (a tar or tar.gz of paths relative to the template's context), checked like a build context. */
export async function storeUploadedFiles(ctx: ControlPlaneContext, params: { teamId: string; hash: string; exp: number; sig: string }, data: Buffer): Promise<void> {
  const { teamId, hash, exp } = params;
  const given = Buffer.from(params.sig, 'base64url');
  const want = HASH.test(hash) ? signature(ctx, teamId, hash, exp) : Buffer.alloc(0);
  if (given.length !== want.length || want.length === 0 || !timingSafeEqual(given, want)) throw new WrennError('unauthenticated', 'this upload URL is not valid');
  if (Date.now() > exp) throw new WrennError('unauthenticated', 'this upload URL has expired: build again to get a new one');
  if (data.length > ctx.config.buildContextMaxBytes) throw new WrennError('payload_too_large', `the files are ${data.length} bytes; at most ${ctx.config.buildContextMaxBytes} are accepted (WRENN_BUILD_CONTEXT_MAX_BYTES)`);
  await readContextArchive(data); // refuses traversal, links out, devices, bombs
  await ctx.db
    .insertInto('e2b_template_files')
    .values({ team_id: teamId, hash, data })
    .onConflict((oc) => oc.columns(['team_id', 'hash']).doUpdateSet({ data, created_at: sql`now()` as never }))
    .execute();
}

/** One tar of every uploaded archive the COPY steps name (all are relative to one context). */
async function mergedContext(ctx: ControlPlaneContext, teamId: string, hashes: readonly string[]): Promise<Buffer | undefined> {
  if (hashes.length === 0) return undefined;
  const entries = new Map<string, ContextEntry>();
  for (const hash of new Set(hashes)) {
    const row = await ctx.db.selectFrom('e2b_template_files').select('data').where('team_id', '=', teamId).where('hash', '=', hash).executeTakeFirst();
    if (!row) throw new WrennError('invalid_argument', `the files of a COPY step (hash ${hash}) were not uploaded: build again`);
    for (const [path, e] of (await readContextArchive(Buffer.from(row.data))).entries) entries.set(path, e);
  }
  const pack = tarStream.pack();
  const chunks: Buffer[] = [];
  const done = new Promise<Buffer>((resolve, reject) => {
    pack.on('data', (c: unknown) => chunks.push(c as Buffer));
    pack.on('end', () => resolve(Buffer.concat(chunks)));
    pack.on('error', reject);
  });
  for (const e of [...entries.values()].sort((a, b) => a.path.localeCompare(b.path))) {
    if (e.type === 'file') pack.entry({ name: e.path, mode: e.mode, type: 'file' }, e.data);
    else if (e.type === 'dir') pack.entry({ name: e.path, mode: e.mode, type: 'directory' });
    else pack.entry({ name: e.path, type: 'symlink', linkname: e.target });
  }
  pack.finalize();
  return done;
}

/** Names a template build may start from, for error messages. */
export async function availableTemplates(ctx: ControlPlaneContext, teamId: string): Promise<string[]> {
  const listed = (await listSnapshots(ctx, teamId, 'base')).map((t) => t.name);
  return [...new Set(['base', ...SHIPPED_TEMPLATES.keys(), ...listed])].sort();
}

export async function startTemplateBuild(ctx: ControlPlaneContext, teamId: string, createdBy: string | null, templateId: string, buildId: string, body: E2bTemplateBody): Promise<void> {
  const req = await ctx.db.selectFrom('e2b_template_requests').selectAll().where('build_id', '=', buildId).where('team_id', '=', teamId).executeTakeFirst();
  if (!req || req.name !== templateId) {
    const started = await ctx.db.selectFrom('builds').select('id').where('id', '=', buildId).where('team_id', '=', teamId).executeTakeFirst();
    if (started) throw new WrennError('conflict', `build ${buildId} has already started`);
    throw new WrennError('not_found', `build ${buildId} of template ${templateId} was not requested (POST /v3/templates first)`);
  }
  try {
    await startRequested(ctx, teamId, createdBy, req, buildId, body);
  } finally {
    // Started or refused, the request is done with: a refused one is requested again.
    await ctx.db.deleteFrom('e2b_template_requests').where('build_id', '=', buildId).execute();
  }
}

async function startRequested(ctx: ControlPlaneContext, teamId: string, createdBy: string | null, req: { name: string; vcpus: number; memory_mb: number }, buildId: string, body: E2bTemplateBody): Promise<void> {
  const plan = e2bRecipe(body, await availableTemplates(ctx, teamId));
  const base = resolveTemplate(plan.from).template;
  if (SHIPPED_TEMPLATES.has(plan.from)) await ensureShippedTemplate(ctx, plan.from);
  const archive = await mergedContext(ctx, teamId, plan.hashes);
  await createBuild(
    ctx,
    { admin: false, teamId },
    {
      id: buildId,
      name: req.name,
      base_template: base,
      recipe: plan.recipe,
      ...(plan.healthcheck ? { healthcheck: plan.healthcheck } : {}),
      vcpus: req.vcpus,
      memory_mb: req.memory_mb,
      skip_pre_post: true,
      archive,
      createdBy,
    },
  );
}

interface E2bLogEntry {
  timestamp: string;
  level: 'debug' | 'info' | 'warn' | 'error';
  message: string;
}

/** The build's log as E2B's entries: stable for finished steps, so `logsOffset` pages through it. */
function logEntries(logs: BuildLogEntry[], at: Date): E2bLogEntry[] {
  const out: E2bLogEntry[] = [];
  const ts = at.toISOString();
  const add = (level: E2bLogEntry['level'], message: string) => out.push({ timestamp: ts, level, message });
  for (const l of logs) {
    add('info', `[${l.phase} ${l.step}] ${l.cmd}`);
    if (l.running) break; // its output is shown once the step ends, so offsets stay stable
    for (const line of `${l.stdout}${l.stderr ? `\n${l.stderr}` : ''}`.split('\n')) if (line.trim()) add('info', line);
    add(l.ok ? 'info' : 'error', l.ok ? `done in ${l.elapsed_ms} ms` : `failed (exit ${l.exit}${l.timed_out ? ', timed out' : ''})`);
  }
  return out;
}

export async function templateBuildStatus(ctx: ControlPlaneContext, teamId: string, templateId: string, buildId: string, logsOffset: number) {
  const waiting = await ctx.db.selectFrom('e2b_template_requests').select(['name', 'created_at']).where('build_id', '=', buildId).where('team_id', '=', teamId).executeTakeFirst();
  if (waiting && waiting.name === templateId) return { templateID: templateId, buildID: buildId, status: 'waiting' as const, logs: [], logEntries: [] };
  const row = await getBuildRow(ctx, { admin: false, teamId }, buildId).catch(() => undefined);
  if (!row || row.name !== templateId) throw new WrennError('not_found', `build ${buildId} of template ${templateId} not found`);
  const entries = logEntries(row.logs as BuildLogEntry[], row.started_at ?? row.created_at);
  const status = row.status === 'pending' ? 'waiting' : row.status === 'running' ? 'building' : row.status === 'success' ? 'ready' : 'error';
  const page = entries.slice(logsOffset);
  return {
    templateID: templateId,
    buildID: buildId,
    status,
    logs: page.map((e) => e.message),
    logEntries: page,
    ...(status === 'error' ? { reason: { message: row.error ?? row.status, logEntries: entries.filter((e) => e.level === 'error').slice(-20) } } : {}),
  };
}
