/**
 * envd entry point: `envd --port 49983`. Runs as a child of tini inside the capsule,
 * on the host's node binary (bind-mounted read-only), with UV_USE_IO_URING=0 so that
 * CRIU can checkpoint it.
 */
import { createLogger } from '@wrenn/shared';
import { createEnvd } from '../server.js';
import { ENVD_VERSION } from '../version.js';
import { loadConfig } from './config.js';

async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig(process.argv.slice(2), process.env);
  } catch (err) {
    process.stderr.write(`envd: ${(err as Error).message}\n`);
    process.exit(2);
  }
  const logger = createLogger({ name: 'envd', level: config.logLevel });
  if (process.env.UV_USE_IO_URING !== '0') {
    logger.warn('UV_USE_IO_URING is not 0: a capsule running this envd cannot be checkpointed');
  }
  const envd = createEnvd(config, logger);
  const port = await envd.listen();
  logger.info({ port, host: config.host, version: ENVD_VERSION }, 'envd listening');

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'envd stopping');
    const force = setTimeout(() => process.exit(1), 5000);
    force.unref();
    void envd.close().then(() => process.exit(0));
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

void main().catch((err) => {
  process.stderr.write(`envd: fatal: ${(err as Error)?.stack ?? String(err)}\n`);
  process.exit(1);
});
