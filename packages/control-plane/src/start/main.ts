/** `wrenn-control-plane`: serves the API. Configuration from WRENN_* variables (README). */
import { createLogger } from '@wrenn/shared';
import { createControlPlane } from '../app.js';
import { loadControlPlaneConfig } from './config.js';

async function main(): Promise<void> {
  let config;
  try {
    config = loadControlPlaneConfig(process.env);
  } catch (err) {
    process.stderr.write(`wrenn-control-plane: ${(err as Error).message}\n`);
    process.exit(2);
  }
  const logger = createLogger({ name: 'wrenn-control-plane', level: config.logLevel });
  const cp = await createControlPlane({ config, logger });
  const port = await cp.listen();
  process.stdout.write(`wrenn control plane listening on ${config.publicUrl.replace(/:\d+$/, `:${port}`)}\n`);
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'control plane stopping');
    void cp.close().then(() => process.exit(0));
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

void main().catch((err) => {
  process.stderr.write(`wrenn-control-plane: fatal: ${(err as Error)?.stack ?? String(err)}\n`);
  process.exit(1);
});
