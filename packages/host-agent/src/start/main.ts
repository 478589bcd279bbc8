/**
 * `wrenn-agent`: the host agent daemon. Configuration from WRENN_* variables (README).
 *   wrenn-agent            serve (building the `minimal` template first if missing)
 *   wrenn-agent doctor     check this host's prerequisites and print what it supports
 *   wrenn-agent --register TOKEN --control-plane URL
 *                          serve, registered with a control plane (credentials saved; later starts need no token)
 */
import { createLogger } from '@wrenn/shared';
import { loadAgentConfig } from './config.js';
import { AGENT_VERSION, startHostAgent } from './agent.js';
import { runDoctor } from './doctor.js';
import { ControlPlaneLink } from '../infra/control-plane/link.js';
import { applyRegisterFlags } from './register-flags.js';

async function main(): Promise<void> {
  let command = 'serve';
  let config;
  try {
    const { args, env } = applyRegisterFlags(process.argv.slice(2), process.env);
    command = args[0] ?? 'serve';
    config = loadAgentConfig(env);
  } catch (err) {
    process.stderr.write(`wrenn-agent: ${(err as Error).message}\n`);
    process.exit(2);
  }
  const logger = createLogger({ name: 'wrenn-agent', level: config.logLevel });
  if (command === 'doctor') {
    process.exit((await runDoctor(config)) ? 0 : 1);
  }
  if (command !== 'serve') {
    process.stderr.write(`wrenn-agent: unknown command ${JSON.stringify(command)} (serve | doctor)\n`);
    process.exit(2);
  }
  const agent = await startHostAgent(config, logger);
  if (process.env.WRENN_SKIP_TEMPLATE_BUILD !== '1') {
    await agent.templates.ensureMinimal({
      onProgress: (p) => logger.info({ step: p.step, totalSteps: p.totalSteps, template: 'minimal' }, p.message),
    });
  }
  // Registered once the templates exist: the control plane may place capsules at once.
  const link = (await ControlPlaneLink.fromConfig(config, agent, logger, AGENT_VERSION))?.start();
  process.stdout.write(`wrenn-agent ${agent.hostId} listening on ${config.host}:${agent.port}\n`);
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'host agent stopping (capsules keep running)');
    void (async () => {
      await link?.close();
      await agent.close();
    })().then(() => process.exit(0));
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

void main().catch((err) => {
  process.stderr.write(`wrenn-agent: fatal: ${(err as Error)?.stack ?? String(err)}\n`);
  process.exit(1);
});
