/**
 * Templates this server ships as recipes, built on demand the first time a build or a
 * sandbox names them, then kept (platform templates, every team may use them):
 *   python            Python 3 with pip and a virtual environment (/opt/venv, first in PATH)
 *   node              Node.js and npm from Debian
 *   code-interpreter  a Jupyter kernel behind the HTTP server @e2b/code-interpreter talks to
 *                     on port 49999 (assets/code-interpreter/server.py), running in every
 *                     sandbox made from it; built on code-interpreter-base, which holds the
 *                     Debian packages (the long part) as a flattened template
 * Packages come from Debian's archive only. A host that already holds one of the flattened
 * templates (built earlier into its template store) has it adopted instead of rebuilt.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import tarStream from 'tar-stream';
import { TemplateKind } from '@wrenn/proto/hostagent';
import { WrennError } from '@wrenn/shared';
import type { ControlPlaneContext } from '../../context.js';
import { createBuild } from './service.js';

interface ShippedTemplate {
  from: string;
  recipe: string[];
  healthcheck?: string;
  /** Files the recipe's COPY steps read, by context path. */
  files?: () => Record<string, string>;
  vcpus: number;
  memoryMb: number;
}

const APT = 'apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends';
const E2B_USER = ['USER user', 'WORKDIR /home/user'];
const SERVER = '/opt/wrenn/code-interpreter/server.py';

export const SHIPPED_TEMPLATES = new Map<string, ShippedTemplate>([
  [
    'python',
    {
      from: 'minimal',
      recipe: [
        `RUN --timeout=20m ${APT} python3 python3-pip python3-venv && rm -rf /var/lib/apt/lists/*`,
        // The venv is the users' to install into (pip refuses the system Python on Debian).
        'RUN python3 -m venv /opt/venv && chown -R user:user /opt/venv',
        ...E2B_USER,
        'ENV VIRTUAL_ENV=/opt/venv PATH=/opt/venv/bin:$PATH',
      ],
      vcpus: 1,
      memoryMb: 1024,
    },
  ],
  [
    'node',
    {
      from: 'minimal',
      recipe: [`RUN --timeout=20m ${APT} nodejs npm && rm -rf /var/lib/apt/lists/*`, ...E2B_USER],
      vcpus: 1,
      memoryMb: 1024,
    },
  ],
  [
    'code-interpreter-base',
    {
      from: 'minimal',
      recipe: [
        `RUN --timeout=30m ${APT} python3-ipykernel python3-jupyter-client python3-matplotlib python3-matplotlib-inline python3-pandas python3-numpy && rm -rf /var/lib/apt/lists/*`,
        `COPY server.py ${SERVER}`,
        `RUN chmod 0755 ${SERVER}`,
        ...E2B_USER,
        'ENV MPLBACKEND=module://matplotlib_inline.backend_inline',
      ],
      files: () => ({ 'server.py': readFileSync(join(import.meta.dirname, '../../../assets/code-interpreter/server.py'), 'utf8') }),
      vcpus: 1,
      memoryMb: 1024,
    },
  ],
  [
    'code-interpreter',
    {
      from: 'code-interpreter-base',
      // The server is running in every sandbox (a snapshot template); its kernel starts on
      // first use, so nothing but a listening socket is in the snapshot.
      recipe: [...E2B_USER, `START python3 ${SERVER}`],
      healthcheck: 'curl -sf http://127.0.0.1:49999/health',
      vcpus: 1,
      memoryMb: 1024,
    },
  ],
]);

/** E2B names of shipped templates (@e2b/code-interpreter asks for `code-interpreter-v1`). */
const E2B_NAMES: Record<string, string> = { 'code-interpreter-v1': 'code-interpreter' };

export function shippedName(name: string): string {
  return E2B_NAMES[name] ?? name;
}

/** How long a caller waits for a shipped template being built. */
const BUILD_WAIT_MS = 40 * 60_000;

async function tarOf(files: Record<string, string>): Promise<Buffer> {
  const pack = tarStream.pack();
  const chunks: Buffer[] = [];
  const done = new Promise<Buffer>((resolve, reject) => {
    pack.on('data', (c: unknown) => chunks.push(c as Buffer));
    pack.on('end', () => resolve(Buffer.concat(chunks)));
    pack.on('error', reject);
  });
  for (const [name, text] of Object.entries(files)) pack.entry({ name, mode: 0o644 }, text);
  pack.finalize();
  return done;
}

/** A flattened template of that name already on an up host (an earlier build): recorded, not rebuilt. */
async function adopt(ctx: ControlPlaneContext, name: string, spec: ShippedTemplate): Promise<boolean> {
  if (spec.healthcheck || spec.recipe.some((l) => l.startsWith('START '))) return false; // snapshots are not kept across hosts' lives
  const hosts = await ctx.db.selectFrom('hosts').select(['id', 'agent_url', 'agent_token']).where('status', '=', 'up').where('type', '<>', 'byoc').execute();
  for (const h of hosts) {
    const listed = await ctx.agents
      .get(h.id, h.agent_url, h.agent_token)
      .listTemplates({}, { timeoutMs: 10_000 })
      .catch(() => undefined);
    const t = listed?.templates.find((x) => x.name === name && x.kind === TemplateKind.BASE);
    if (!t) continue;
    await ctx.db
      .insertInto('templates')
      .values({ name, team_id: null, kind: 'base', host_id: h.id, size_bytes: String(t.sizeBytes), default_user: t.defaultUser || null, default_env: JSON.stringify({}), vcpus: spec.vcpus, memory_mb: spec.memoryMb, build_id: null })
      .execute()
      .catch(() => {}); // adopted by a concurrent caller
    ctx.logger.info({ template: name, hostId: h.id }, 'shipped template found on a host: adopted');
    return true;
  }
  return false;
}

async function waitForBuild(ctx: ControlPlaneContext, id: string, name: string): Promise<void> {
  const deadline = Date.now() + BUILD_WAIT_MS;
  for (;;) {
    const b = await ctx.db.selectFrom('builds').select(['status', 'error']).where('id', '=', id).executeTakeFirstOrThrow();
    if (b.status === 'success') return;
    if (b.status === 'failed' || b.status === 'cancelled') throw new WrennError('unavailable', `the shipped template ${name} could not be built (build ${id}): ${b.error ?? b.status}`);
    if (Date.now() > deadline) throw new WrennError('unavailable', `the shipped template ${name} is still building (build ${id}): try again later`);
    await new Promise((r) => setTimeout(r, 1000));
  }
}

/** Makes sure a shipped template exists (building it, and what it is built on, if need be); other names are left alone. */
export async function ensureShippedTemplate(ctx: ControlPlaneContext, rawName: string): Promise<void> {
  const name = shippedName(rawName);
  const spec = SHIPPED_TEMPLATES.get(name);
  if (!spec) return;
  const have = await ctx.db.selectFrom('templates').select('name').where('name', '=', name).where('team_id', 'is', null).executeTakeFirst();
  if (have) return;
  if (SHIPPED_TEMPLATES.has(spec.from)) await ensureShippedTemplate(ctx, spec.from);
  if (await adopt(ctx, name, spec)) return;
  const building = await ctx.db.selectFrom('builds').select('id').where('name', '=', name).where('team_id', 'is', null).where('status', 'in', ['pending', 'running']).executeTakeFirst();
  let id = building?.id;
  if (!id) {
    ctx.logger.info({ template: name }, 'building a shipped template on first use');
    try {
      id = (
        await createBuild(ctx, { admin: true }, {
          name,
          base_template: spec.from,
          recipe: spec.recipe,
          ...(spec.healthcheck ? { healthcheck: spec.healthcheck } : {}),
          vcpus: spec.vcpus,
          memory_mb: spec.memoryMb,
          skip_pre_post: true,
          ...(spec.files ? { archive: await tarOf(spec.files()) } : {}),
          createdBy: null,
        })
      ).id;
    } catch (err) {
      // Another caller started it between the look-up and here.
      const again = await ctx.db.selectFrom('builds').select('id').where('name', '=', name).where('team_id', 'is', null).where('status', 'in', ['pending', 'running']).executeTakeFirst();
      if (!again) throw err;
      id = again.id;
    }
  }
  await waitForBuild(ctx, id, name);
}
