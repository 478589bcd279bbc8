/**
 * `wrenn templates build -f Recipefile|Dockerfile [--context dir] [--name n]` (live step
 * display and logs) and `wrenn builds ls|logs|cancel`.
 */
import { readFileSync, statSync } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import type { Command } from 'commander';
import type { Build, Wrenn } from '@wrenn/sdk';
import { clientFor, globalFlags, run } from '../context.js';
import { humanBytes, printJson, table } from '../output.js';

/** A Dockerfile by its name, or by its first instruction being FROM (recipes have no FROM). */
export function isDockerfile(path: string, text: string): boolean {
  if (/(^|[./])Dockerfile$|\.dockerfile$/i.test(basename(path))) return true;
  const first = text.split('\n').map((l) => l.trim()).find((l) => l && !l.startsWith('#'));
  return /^FROM\s/i.test(first ?? '');
}

/** A template name from a directory name: lowercase, only the characters names may hold. */
function nameFrom(dir: string): string {
  const n = basename(resolve(dir)).toLowerCase().replace(/[^a-z0-9._-]+/g, '-').replace(/^[^a-z0-9]+/, '').slice(0, 63);
  return n || 'template';
}

async function packContext(dir: string): Promise<Uint8Array> {
  if (!statSync(dir).isDirectory()) throw new Error(`--context ${dir} is not a directory`);
  const chunks: Buffer[] = [];
  // Loaded here, not at start: `tar` costs every other command ~60 ms of start-up.
  const { create: createTar } = await import('tar');
  // portable: no owner names or host-specific metadata; links are sent as links (the server checks them).
  const stream = createTar({ gzip: true, cwd: dir, portable: true }, ['.']);
  for await (const c of stream as AsyncIterable<Buffer>) chunks.push(c);
  return Buffer.concat(chunks);
}

/** Prints new steps and new output as the build advances; resolves with the final build. */
export async function followBuild(wrenn: Wrenn, id: string, opts: { admin?: boolean; out?: NodeJS.WritableStream; err?: NodeJS.WritableStream } = {}): Promise<Build> {
  const out = opts.out ?? process.stdout;
  const err = opts.err ?? process.stderr;
  const shown = new Map<number, { stdout: number; stderr: number; header: boolean; done: boolean }>();
  let last: Build | undefined;
  for await (const b of wrenn.builds.watch(id, opts.admin ? { admin: true } : {})) {
    last = b;
    for (const l of b.logs) {
      const s = shown.get(l.step) ?? { stdout: 0, stderr: 0, header: false, done: false };
      shown.set(l.step, s);
      if (!s.header) {
        err.write(`[${l.step}/${b.totalSteps}] ${l.phase === 'recipe' ? '' : `(${l.phase}) `}${l.cmd}\n`);
        s.header = true;
      }
      if (l.stdout.length > s.stdout) {
        out.write(l.stdout.slice(s.stdout));
        s.stdout = l.stdout.length;
      }
      if (l.stderr.length > s.stderr) {
        err.write(l.stderr.slice(s.stderr));
        s.stderr = l.stderr.length;
      }
      if (!l.running && !s.done) {
        s.done = true;
        err.write(`    ${l.ok ? 'ok' : `failed (exit ${l.exit}${l.timedOut ? ', timed out' : ''})`} in ${(l.elapsedMs / 1000).toFixed(1)} s\n`);
      }
    }
  }
  if (!last) throw new Error(`build ${id}: no progress received`);
  return last;
}

export function templatesBuildCommand(templates: Command): void {
  templates
    .command('build')
    .description('build a template from a recipe (RUN, START, ENV, WORKDIR, USER, COPY) or a Dockerfile, showing each step live')
    .requiredOption('-f, --file <path>', 'Recipefile or Dockerfile')
    .option('-c, --context <dir>', 'directory sent as the build context for COPY (default: none)')
    .option('-n, --name <name>', 'template name (default: the context or file directory name)')
    .option('-b, --base <template>', 'base template for a recipe (default minimal; a Dockerfile names it in FROM)')
    .option('--healthcheck <cmd>', 'save with memory once this command succeeds (START processes keep running)')
    .option('--vcpus <n>', 'vCPUs of the build capsule', (v) => Number.parseInt(v, 10))
    .option('--memory <mb>', 'memory (MB) of the build capsule', (v) => Number.parseInt(v, 10))
    .option('--skip-pre-post', 'run only the recipe (no pre-build USER/WORKDIR, no post-build clean-up)')
    .option('--admin', 'build a platform template (administrators)')
    .option('-d, --detach', 'print the build id and return without following it')
    .action(
      run(async (opts: { file: string; context?: string; name?: string; base?: string; healthcheck?: string; vcpus?: number; memory?: number; skipPrePost?: boolean; admin?: boolean; detach?: boolean }, cmd: Command) => {
        const wrenn = clientFor(cmd);
        const text = readFileSync(opts.file, 'utf8');
        const docker = isDockerfile(opts.file, text);
        const archive = opts.context ? await packContext(opts.context) : undefined;
        const name = opts.name ?? nameFrom(opts.context ?? dirname(resolve(opts.file)));
        const build = await wrenn.builds.create({
          name,
          ...(docker ? { dockerfile: text } : { recipe: text.replace(/\r?\n$/, '').split(/\r?\n/) }),
          ...(opts.base ? { baseTemplate: opts.base } : {}),
          ...(opts.healthcheck ? { healthcheck: opts.healthcheck } : {}),
          ...(opts.vcpus ? { vcpus: opts.vcpus } : {}),
          ...(opts.memory ? { memoryMb: opts.memory } : {}),
          ...(opts.skipPrePost ? { skipPrePost: true } : {}),
          ...(archive ? { archive } : {}),
          ...(opts.admin ? { admin: true } : {}),
        });
        if (opts.detach) {
          if (globalFlags(cmd).json) return printJson(build);
          process.stdout.write(`${build.id}\n`);
          return;
        }
        process.stderr.write(`build ${build.id}: ${name} from ${build.baseTemplate}${archive ? ` (context ${humanBytes(archive.length)})` : ''}\n`);
        const done = await followBuild(wrenn, build.id, opts.admin ? { admin: true } : {});
        if (globalFlags(cmd).json) printJson(done);
        if (done.status !== 'success') {
          process.stderr.write(`wrenn: build ${done.id} ${done.status}${done.error ? `: ${done.error}` : ''}\n`);
          process.exitCode = 1;
          return;
        }
        process.stderr.write(`template ${done.name} (${done.templateType}) built\n`);
        if (!globalFlags(cmd).json) process.stdout.write(`${done.name}\n`);
      }),
    );
}

export function buildsCommand(program: Command): void {
  const builds = program.command('builds').alias('build').description('template builds');
  builds
    .command('ls')
    .alias('list')
    .description('builds, newest first')
    .option('--admin', 'platform builds (administrators)')
    .action(
      run(async (opts: { admin?: boolean }, cmd: Command) => {
        const list = await clientFor(cmd).builds.list(opts.admin ? { admin: true } : {});
        if (globalFlags(cmd).json) return printJson(list);
        const rows = list.map((b) => ({ id: b.id, name: b.name, status: b.status, step: `${b.currentStep}/${b.totalSteps}`, created: b.createdAt }));
        process.stdout.write(`${table(rows, ['id', 'name', 'status', 'step', 'created'])}\n`);
      }),
    );
  builds
    .command('logs <id>')
    .description("a build's steps and output (-f: follow until it ends)")
    .option('-f, --follow', 'follow a running build')
    .option('--admin', 'a platform build (administrators)')
    .action(
      run(async (id: string, opts: { follow?: boolean; admin?: boolean }, cmd: Command) => {
        const wrenn = clientFor(cmd);
        const call = opts.admin ? { admin: true } : {};
        if (opts.follow) {
          const b = await followBuild(wrenn, id, call);
          process.stderr.write(`${b.status}${b.error ? `: ${b.error}` : ''}\n`);
          if (b.status !== 'success') process.exitCode = 1;
          return;
        }
        const b = await wrenn.builds.get(id, call);
        if (globalFlags(cmd).json) return printJson(b);
        for (const l of b.logs) {
          process.stdout.write(`[${l.step}/${b.totalSteps}] ${l.cmd}  (${l.running ? 'running' : l.ok ? 'ok' : `exit ${l.exit}${l.timedOut ? ', timed out' : ''}`}, ${(l.elapsedMs / 1000).toFixed(1)} s)\n`);
          if (l.stdout) process.stdout.write(l.stdout.endsWith('\n') ? l.stdout : `${l.stdout}\n`);
          if (l.stderr) process.stdout.write(l.stderr.endsWith('\n') ? l.stderr : `${l.stderr}\n`);
        }
        process.stdout.write(`${b.status}${b.error ? `: ${b.error}` : ''}\n`);
      }),
    );
  builds
    .command('cancel <ids...>')
    .description('cancel pending or running builds (a running step stops at once)')
    .option('--admin', 'platform builds (administrators)')
    .action(
      run(async (ids: string[], opts: { admin?: boolean }, cmd: Command) => {
        const wrenn = clientFor(cmd);
        for (const id of ids) {
          try {
            await wrenn.builds.cancel(id, opts.admin ? { admin: true } : {});
            process.stdout.write(`${id}\n`);
          } catch (err) {
            process.stderr.write(`wrenn: ${id}: ${(err as Error).message}\n`);
            process.exitCode = 1;
          }
        }
      }),
    );
}
