/** What every command gets: the SDK client built from the resolved config, and output mode. */
import type { Command } from 'commander';
import { Wrenn } from '@wrenn/sdk';
import { resolveConfig } from './config.js';
import { errorLine } from './output.js';

export interface GlobalFlags {
  apiUrl?: string;
  apiKey?: string;
  json?: boolean;
}

export function globalFlags(cmd: Command): GlobalFlags {
  return cmd.optsWithGlobals<GlobalFlags>();
}

export function clientFor(cmd: Command): Wrenn {
  const flags = globalFlags(cmd);
  const config = resolveConfig(flags);
  if (!config.apiKey) throw new Error(`no API key for ${config.apiUrl}: set WRENN_API_KEY or pass --api-key (from ${config.source})`);
  return new Wrenn({ baseUrl: config.apiUrl, apiKey: config.apiKey, headers: { 'user-agent': 'wrenn-cli/0.1.0' } });
}

/**
 * Wraps a command action: errors become one line on stderr and exit code 1 (unless the
 * action already chose an exit code).
 */
export function run<A extends unknown[]>(fn: (...args: A) => Promise<void>): (...args: A) => Promise<void> {
  return async (...args: A) => {
    try {
      await fn(...args);
    } catch (err) {
      process.stderr.write(`wrenn: ${errorLine(err)}\n`);
      process.exitCode = 1;
    }
  };
}
