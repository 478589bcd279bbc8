/**
 * `wrenn up`: Wrenn on this machine in one process. Checks (or installs) the host's
 * dependencies, starts a host agent, builds the `minimal` template if missing (progress
 * bar), starts the control plane on embedded PGlite, registers the agent with it, makes
 * sure there is an administrator and an API key, writes the CLI config (0600) and prints
 * how to connect. Ctrl-C stops everything; capsules keep running and the next start
 * adopts them.
 */
import { resolve } from 'node:path';
import { createControlPlane, ensureAdmin, loadControlPlaneConfig, type ControlPlane } from '@wrenn/control-plane';
import { loadAgentConfig, startHostAgent } from '@wrenn/host-agent';
import { Wrenn } from '@wrenn/sdk';
import { createLogger, DisposableStack } from '@wrenn/shared';
import { ensureHostDeps } from './host-deps.js';
import { ensureMinimalTemplate, minimalTemplateExists } from './template.js';
import { linkLocalAgent } from './local-host.js';
import { ensureCliConfig } from './cli-config.js';

export interface UpOptions {
  dataDir: string;
  /** Control plane listen address and port (0 = any free port). */
  host: string;
  port: number;
  agentPort: number;
  /** Run scripts/setup.sh when host dependencies are missing. */
  setup: boolean;
  adminEmail?: string;
  verbose: boolean;
}

export const REPO_ROOT = resolve(import.meta.dirname, '../../../..');

function log(line: string): void {
  process.stdout.write(`[up] ${line}\n`);
}

/** Resolves with the signal's name on the first SIGINT/SIGTERM; a second one exits at once. */
function stopSignal(abort: AbortController): Promise<string> {
  return new Promise((resolveStop) => {
    let seen = false;
    const on = (name: string) => {
      if (seen) {
        process.stderr.write('\n[up] second signal: exiting without cleanup\n');
        process.exit(130);
      }
      seen = true;
      abort.abort(new Error(`stopped by ${name}`));
      resolveStop(name);
    };
    process.on('SIGINT', () => on('SIGINT'));
    process.on('SIGTERM', () => on('SIGTERM'));
  });
}

/** A port conflict says which port and what to do; other errors pass through. */
function friendly(err: unknown): unknown {
  const e = err as NodeJS.ErrnoException & { address?: string; port?: number };
  if (e?.code === 'EADDRINUSE') {
    return new Error(`${e.address ?? ''}:${e.port ?? ''} is already in use (another wrenn up, or another server): stop it, or choose other ports with --port / --agent-port`);
  }
  return err;
}

export async function runUp(opts: UpOptions): Promise<void> {
  if (process.getuid?.() !== 0) {
    throw new Error('wrenn up must run as root (it creates containers, network namespaces, mounts and nftables rules): sudo wrenn up');
  }
  const abort = new AbortController();
  const stopped = stopSignal(abort);
  const resources = new DisposableStack();
  const logger = createLogger({ name: 'wrenn', level: opts.verbose ? 'info' : process.env.WRENN_LOG_LEVEL || 'warn' }, process.stderr);
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    WRENN_DATA_DIR: opts.dataDir,
    WRENN_CP_HOST: opts.host,
    WRENN_CP_PORT: String(opts.port),
    WRENN_AGENT_HOST: '127.0.0.1',
    WRENN_AGENT_PORT: String(opts.agentPort),
  };

  try {
    await ensureHostDeps({ repoRoot: REPO_ROOT, needTemplateBuild: !minimalTemplateExists(opts.dataDir), allowSetup: opts.setup, log });

    const agentConfig = loadAgentConfig(env);
    log(`starting the host agent (data in ${opts.dataDir})`);
    const agent = await startHostAgent(agentConfig, logger);
    resources.defer(() => agent.close()); // capsules keep running: the next start adopts them
    await ensureMinimalTemplate(agent, { signal: abort.signal, log });

    abort.signal.throwIfAborted();
    const cpConfig = loadControlPlaneConfig(env);
    const cp: ControlPlane = await createControlPlane({ config: cpConfig, logger });
    resources.defer(() => cp.close());
    const port = await cp.listen();
    const localUrl = `http://${opts.host === '0.0.0.0' || opts.host === '::' ? '127.0.0.1' : opts.host}:${port}`;
    const publicUrl = process.env.WRENN_PUBLIC_URL || localUrl;

    const admin = await ensureAdmin(cp.ctx, opts.adminEmail ? { email: opts.adminEmail } : {});
    // An administrator's token, minted in-process, drives the rest through the public API.
    const adminToken = await cp.ctx.jwt.sign({ kind: 'user', user: admin.user.id, team: admin.team.id, role: admin.team.role, is_admin: true }, 600);
    const adminClient = new Wrenn({ baseUrl: localUrl, token: adminToken });

    const local = await linkLocalAgent({ apiUrl: localUrl, admin: adminClient, agent, agentConfig, logger, signal: abort.signal });
    resources.defer(() => local.link.close());

    abort.signal.throwIfAborted();
    const cli = await ensureCliConfig({ apiUrl: publicUrl, localUrl, created: admin.created, ...(admin.apiKey ? { apiKey: admin.apiKey } : {}), adminClient });

    const lines = [
      '',
      'Wrenn is up.',
      `  dashboard  ${publicUrl}/`,
      `  API        ${publicUrl}   (docs: ${publicUrl}/docs)`,
      `  host       ${local.hostId} (this machine)`,
    ];
    if (admin.created) {
      lines.push(`  admin      ${admin.user.email}${admin.password ? ` / ${admin.password}` : ''}`);
      lines.push(`  API key    ${admin.apiKey}`);
    } else if (cli.newKey) {
      lines.push(`  API key    ${cli.newKey}   (new: the config had none that works)`);
    }
    lines.push(`  config     ${cli.paths.join(', ')}`);
    lines.push('', `Try: wrenn capsules create   then   wrenn exec <id> -- echo hello`);
    lines.push('Ctrl-C stops Wrenn (capsules keep running; the next `wrenn up` adopts them).', '');
    process.stdout.write(`${lines.join('\n')}\n`);

    const signal = await stopped;
    log(`${signal}: stopping`);
  } catch (err) {
    if (abort.signal.aborted) {
      log('stopped during startup');
    } else {
      await resources.dispose().catch(() => {});
      throw friendly(err);
    }
  }
  await resources.dispose();
  log('stopped');
}
