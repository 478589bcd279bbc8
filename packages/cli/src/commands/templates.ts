/** `wrenn templates ls`: the templates capsules can start from. */
import type { Command } from 'commander';
import { isWrennApiError } from '@wrenn/sdk';
import { clientFor, globalFlags, run } from '../context.js';
import { humanBytes, printJson, table } from '../output.js';

export function templatesCommand(program: Command): void {
  const templates = program.command('templates').alias('template').description('templates capsules start from');
  templates
    .command('ls')
    .alias('list')
    .description('list base templates and the team snapshots')
    .option('--type <type>', 'base or snapshot')
    .action(
      run(async (opts: { type?: 'base' | 'snapshot' }, cmd: Command) => {
        const list = await clientFor(cmd)
          .templates.list(opts.type ? { type: opts.type } : {})
          .catch((err: unknown) => {
            // An older server without the snapshots API answers "no route".
            if (isWrennApiError(err, 'not_found') && /no route/.test(err.message)) throw new Error('this server does not list templates yet (no GET /v1/snapshots): upgrade it');
            throw err;
          });
        if (globalFlags(cmd).json) return printJson(list);
        const rows = list.map((t) => ({ name: t.name, type: t.type ?? '', size: typeof t.sizeBytes === 'number' ? humanBytes(t.sizeBytes) : '' }));
        process.stdout.write(`${table(rows, ['name', 'type', 'size'])}\n`);
      }),
    );
}
