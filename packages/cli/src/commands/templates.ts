/** `wrenn templates ls|build|snapshot|rm`: the templates capsules can start from, the team's builds and snapshots. */
import type { Command } from 'commander';
import { isWrennApiError } from '@wrenn/sdk';
import { clientFor, globalFlags, run } from '../context.js';
import { errorLine, humanBytes, printJson, table } from '../output.js';
import { templatesBuildCommand } from './builds.js';

export function templatesCommand(program: Command): void {
  const templates = program.command('templates').alias('template').description('templates capsules start from');
  templates
    .command('ls')
    .alias('list')
    .description('list base templates and the team snapshots')
    .option('--type <type>', 'base or snapshot')
    .action(
      run(async (opts: { type?: 'base' | 'snapshot' }, cmd: Command) => {
        // Base templates, platform templates, the team's builds and snapshots (GET /v1/templates).
        const all = await clientFor(cmd)
          .builds.templates()
          .catch((err: unknown) => {
            if (isWrennApiError(err, 'not_found') && /no route/.test(err.message)) throw new Error('this server does not list templates yet (no GET /v1/templates): upgrade it');
            throw err;
          });
        const list = opts.type ? all.filter((t) => t.type === opts.type) : all;
        if (globalFlags(cmd).json) return printJson(list);
        const rows = list.map((t) => ({ name: t.name, type: t.type, size: humanBytes(t.sizeBytes), owner: t.teamId ? 'team' : 'platform', build: t.buildId ?? '' }));
        process.stdout.write(`${table(rows, ['name', 'type', 'size', 'owner', 'build'])}\n`);
      }),
    );
  templates
    .command('snapshot <capsule-id>')
    .description('save a running capsule, memory included, as a team template (the capsule keeps running)')
    .option('-n, --name <name>', 'template name (default: chosen by the server)')
    .option('--overwrite', 'replace a snapshot of the same name')
    .action(
      run(async (capsuleId: string, opts: { name?: string; overwrite?: boolean }, cmd: Command) => {
        const t = await clientFor(cmd).templates.snapshot(capsuleId, { ...(opts.name ? { name: opts.name } : {}), ...(opts.overwrite ? { overwrite: true } : {}) });
        if (globalFlags(cmd).json) return printJson(t);
        process.stdout.write(`${t.name}\n`);
      }),
    );
  templatesBuildCommand(templates);
  templates
    .command('rm <names...>')
    .alias('delete')
    .description("delete the team's built or snapshot templates (refused while a capsule uses one)")
    .action(
      run(async (names: string[], _opts: unknown, cmd: Command) => {
        const wrenn = clientFor(cmd);
        for (const name of names) {
          try {
            await wrenn.builds.deleteTemplate(name);
            process.stdout.write(`${name}\n`);
          } catch (err) {
            process.stderr.write(`wrenn: ${name}: ${errorLine(err)}\n`);
            process.exitCode = 1;
          }
        }
      }),
    );
}
