/** `wrenn capsules create|list|get|rm|pause|resume|port`. */
import type { Command } from 'commander';
import type { Capsule } from '@wrenn/sdk';
import { clientFor, globalFlags, run } from '../context.js';
import { errorLine, keyValues, printJson, table } from '../output.js';

const collect = (v: string, prev: string[] = []) => [...prev, v];

function int(name: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 0) throw new Error(`${name} must be a whole number, got ${JSON.stringify(v)}`);
    return n;
  };
}

function row(c: Capsule): Record<string, unknown> {
  return { id: c.id, status: c.status, template: c.template, vcpus: c.vcpus, memory_mb: c.memoryMb, created: c.createdAt };
}

export function capsulesCommand(program: Command): void {
  const capsules = program.command('capsules').alias('capsule').description('create, list, inspect and remove capsules');

  capsules
    .command('create')
    .description('create a capsule and print its id')
    .option('-t, --template <name>', 'template to start from', 'minimal')
    .option('--vcpus <n>', 'virtual CPUs', int('--vcpus'))
    .option('--memory <mb>', 'memory limit in MB', int('--memory'))
    .option('--disk <mb>', 'disk size in MB', int('--disk'))
    .option('--timeout <sec>', 'auto-pause after this many idle seconds (0 = never)', int('--timeout'))
    .option('--auto-resume', 'when paused, resume on the next exec, file call or proxied request')
    .option('-m, --metadata <key=value>', 'metadata label (repeatable)', collect)
    .option('-e, --env <key=value>', 'environment variable (repeatable)', collect)
    .action(
      run(async (opts: { template: string; vcpus?: number; memory?: number; disk?: number; timeout?: number; autoResume?: boolean; metadata?: string[]; env?: string[] }, cmd: Command) => {
        const wrenn = clientFor(cmd);
        const capsule = await wrenn.capsules.create({
          template: opts.template,
          ...(opts.vcpus !== undefined ? { vcpus: opts.vcpus } : {}),
          ...(opts.memory !== undefined ? { memoryMb: opts.memory } : {}),
          ...(opts.disk !== undefined ? { diskSizeMb: opts.disk } : {}),
          ...(opts.timeout !== undefined ? { timeoutSec: opts.timeout } : {}),
          ...(opts.autoResume ? { autoResume: true } : {}),
          ...(opts.metadata ? { metadata: keyValues(opts.metadata, '--metadata') } : {}),
          ...(opts.env ? { envs: keyValues(opts.env, '--env') } : {}),
        });
        if (globalFlags(cmd).json) printJson(capsule);
        else process.stdout.write(`${capsule.id}\n`);
      }),
    );

  capsules
    .command('list')
    .alias('ls')
    .description("list the team's capsules")
    .option('-a, --all', 'include stopped capsules')
    .action(
      run(async (opts: { all?: boolean }, cmd: Command) => {
        const list = (await clientFor(cmd).capsules.list()).filter((c) => opts.all || (c.status !== 'stopped' && c.status !== 'error'));
        if (globalFlags(cmd).json) return printJson(list);
        if (list.length === 0) return void process.stdout.write('no capsules (wrenn capsules create)\n');
        process.stdout.write(`${table(list.map(row), ['id', 'status', 'template', 'vcpus', 'memory_mb', 'created'])}\n`);
      }),
    );

  capsules
    .command('get <id>')
    .description("show a capsule's details")
    .action(
      run(async (id: string, _opts: unknown, cmd: Command) => {
        const c = await clientFor(cmd).capsules.get(id);
        if (globalFlags(cmd).json) return printJson(c);
        const lines = Object.entries(c).map(([k, v]) => `${k.padEnd(14)} ${v !== null && typeof v === 'object' ? JSON.stringify(v) : String(v)}`);
        process.stdout.write(`${lines.join('\n')}\n`);
      }),
    );

  capsules
    .command('rm <ids...>')
    .alias('destroy')
    .description('destroy capsules')
    .action(
      run(async (ids: string[], _opts: unknown, cmd: Command) => {
        const wrenn = clientFor(cmd);
        const results = await Promise.allSettled(ids.map((id) => wrenn.capsules.destroy(id)));
        results.forEach((r, i) => {
          if (r.status === 'fulfilled') process.stdout.write(`${ids[i]}\n`);
          else {
            process.stderr.write(`wrenn: ${ids[i]}: ${errorLine(r.reason)}\n`);
            process.exitCode = 1;
          }
        });
      }),
    );

  for (const [name, description] of [
    ['pause', 'pause capsules: memory snapshot, memory freed (resume continues where they were)'],
    ['resume', 'resume paused capsules'],
  ] as const) {
    capsules
      .command(`${name} <ids...>`)
      .description(description)
      .action(
        run(async (ids: string[], _opts: unknown, cmd: Command) => {
          const wrenn = clientFor(cmd);
          for (const id of ids) {
            try {
              const c = await wrenn.capsules[name](id);
              process.stdout.write(`${c.id} ${c.status}\n`);
            } catch (err) {
              process.stderr.write(`wrenn: ${id}: ${errorLine(err)}\n`);
              process.exitCode = 1;
            }
          }
        }),
      );
  }

  capsules
    .command('port <id> <port>')
    .description("how to reach a port of the capsule through the API's port proxy (URL and headers)")
    .action(
      run(async (id: string, port: string, _opts: unknown, cmd: Command) => {
        const target = clientFor(cmd).capsulePort(id, int('<port>')(port));
        if (globalFlags(cmd).json) return printJson(target);
        const headers = Object.entries(target.headers).map(([k, v]) => ` -H '${k}: ${v}'`).join('');
        process.stdout.write(`curl${headers} ${target.url}\n`);
      }),
    );
}
