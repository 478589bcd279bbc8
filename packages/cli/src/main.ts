/**
 * `wrenn`: the command line for Wrenn. Every command except `up` talks to the API through
 * the public SDK (@wrenn/sdk); `up` starts the server on this machine.
 */
import { Command } from 'commander';
import { capsulesCommand } from './commands/capsules.js';
import { execCommand } from './commands/exec.js';
import { ptyCommand } from './commands/pty.js';
import { filesCommand } from './commands/files.js';
import { templatesCommand } from './commands/templates.js';
import { upCommand } from './commands/up.js';
import { buildsCommand } from './commands/builds.js';
import { serviceCommand } from './commands/service.js';

export function buildProgram(): Command {
  const program = new Command('wrenn')
    .description('Wrenn: isolated, pausable sandboxes (capsules) for untrusted code')
    .version('0.1.0')
    .option('--api-url <url>', 'API base URL (WRENN_API_URL, or the config written by wrenn up)')
    .option('--api-key <key>', 'API key wrn_... (WRENN_API_KEY, or the config written by wrenn up)')
    .option('--json', 'print JSON')
    .showHelpAfterError();
  upCommand(program);
  capsulesCommand(program);
  execCommand(program);
  ptyCommand(program);
  filesCommand(program);
  templatesCommand(program);
  buildsCommand(program);
  serviceCommand(program);
  return program;
}

await buildProgram().parseAsync(process.argv);
