/** `wrenn up`: everything on this machine in one process (see src/up/run-up.ts). */
import type { Command } from 'commander';
import { errorLine } from '../output.js';

function port(name: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 0 || n > 65535) throw new Error(`${name} must be a port number, got ${JSON.stringify(v)}`);
    return n;
  };
}

export function upCommand(program: Command): void {
  program
    .command('up')
    .description('run Wrenn on this machine: host agent, control plane (embedded database), admin account (root)')
    .option('--data-dir <dir>', 'state: database, templates, capsules (WRENN_DATA_DIR)', process.env.WRENN_DATA_DIR || '/var/lib/wrenn')
    .option('--host <addr>', 'API listen address (WRENN_CP_HOST)', process.env.WRENN_CP_HOST || '127.0.0.1')
    .option('-p, --port <port>', 'API port, 0 = any free port (WRENN_CP_PORT)', port('--port'), Number(process.env.WRENN_CP_PORT || 8080))
    .option('--agent-port <port>', 'host agent RPC port on 127.0.0.1 (WRENN_AGENT_PORT)', port('--agent-port'), Number(process.env.WRENN_AGENT_PORT || 50052))
    .option('--admin-email <email>', 'email of the administrator created on first start')
    .option('--no-setup', 'do not run scripts/setup.sh when host dependencies are missing')
    .option('-v, --verbose', 'log every request and agent operation')
    .action(async (opts: { dataDir: string; host: string; port: number; agentPort: number; adminEmail?: string; setup: boolean; verbose?: boolean }) => {
      // Loaded only here: the server packages are heavy and the other commands never need them.
      const { runUp } = await import('../up/run-up.js');
      try {
        await runUp({
          dataDir: opts.dataDir,
          host: opts.host,
          port: opts.port,
          agentPort: opts.agentPort,
          setup: opts.setup,
          verbose: opts.verbose ?? false,
          ...(opts.adminEmail ? { adminEmail: opts.adminEmail } : {}),
        });
      } catch (err) {
        process.stderr.write(`wrenn up: ${errorLine(err)}\n`);
        process.exit(1);
      }
      // Nothing else to wait for (a straggling socket must not keep a stopped server alive).
      process.exit(0);
    });
}
