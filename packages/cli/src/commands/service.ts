/** `wrenn service install|uninstall|status`: the control plane and host agent as systemd services (src/service/systemd.ts). */
import type { Command } from 'commander';
import { globalFlags, run } from '../context.js';
import { printJson, table } from '../output.js';

type Which = 'all' | 'control-plane' | 'agent';

interface Flags {
  component: Which;
  unitDir: string;
  envDir: string;
}

function components(which: Which): Array<'control-plane' | 'agent'> {
  if (which === 'all') return ['control-plane', 'agent'];
  if (which === 'control-plane' || which === 'agent') return [which];
  throw new Error(`--component must be all, control-plane or agent, got ${JSON.stringify(which)}`);
}

function common(cmd: Command): Command {
  return cmd
    .option('--component <which>', 'all, control-plane or agent', 'all')
    .option('--unit-dir <dir>', 'where unit files go', '/etc/systemd/system')
    .option('--env-dir <dir>', 'where environment files go', '/etc/wrenn');
}

export function serviceCommand(program: Command): void {
  const service = program.command('service').description('run the control plane and the host agent as systemd services');
  common(service.command('install'))
    .description('write the units and environment files (existing ones are kept), reload systemd, enable the units')
    .option('--control-plane-url <url>', 'agent: the control plane to register with on first start')
    .option('--register-token <token>', 'agent: one-time registration token (POST /v1/hosts)')
    .option('--now', 'also start the units')
    .action(
      run(async (opts: Flags & { controlPlaneUrl?: string; registerToken?: string; now?: boolean }) => {
        const { installServices } = await import('../service/systemd.js');
        installServices({
          components: components(opts.component),
          unitDir: opts.unitDir,
          envDir: opts.envDir,
          ...(opts.controlPlaneUrl ? { controlPlaneUrl: opts.controlPlaneUrl } : {}),
          ...(opts.registerToken ? { registerToken: opts.registerToken } : {}),
          ...(opts.now ? { now: true } : {}),
          log: (line) => process.stdout.write(`${line}\n`),
        });
      }),
    );
  common(service.command('uninstall'))
    .description('stop and disable the units and remove them (capsules keep running; configuration and data are kept)')
    .action(
      run(async (opts: Flags) => {
        const { uninstallServices } = await import('../service/systemd.js');
        uninstallServices({ components: components(opts.component), unitDir: opts.unitDir, envDir: opts.envDir, log: (line) => process.stdout.write(`${line}\n`) });
      }),
    );
  common(service.command('status'))
    .description('whether the units are installed, enabled and running')
    .action(
      run(async (opts: Flags, cmd: Command) => {
        const { serviceStatus } = await import('../service/systemd.js');
        const states = serviceStatus({ components: components(opts.component), unitDir: opts.unitDir, envDir: opts.envDir });
        if (globalFlags(cmd).json) return printJson(states);
        const rows = states.map((s) => ({ ...s, installed: s.installed ? 'yes' : 'no', envFile: s.envFile ? 'yes' : 'no' }));
        process.stdout.write(`${table(rows, ['component', 'unit', 'installed', 'envFile', 'enabled', 'active'])}\n`);
      }),
    );
}
