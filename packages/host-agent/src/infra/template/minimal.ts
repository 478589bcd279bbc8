/**
 * The `minimal` template: Debian bookworm (mmdebstrap minbase) with the tools people expect
 * in a sandbox, a `wrenn-user` (uid 1000, the default user) and E2B's `user` (uid 1001,
 * the user E2B's default template runs as), both with passwordless sudo.
 *
 * mmdebstrap runs in its own mount and pid namespaces (`unshare --pid --kill-child`): when
 * the build is cancelled or the agent dies, the kernel kills every process of the build and
 * drops the /proc, /sys and /dev mounts it made inside the tree, so a cancelled build never
 * leaves mounts that a later `rm -rf` of the tree could descend into.
 */
import { chmod, mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { run } from '../exec.js';
import type { TemplateRecipe } from './builder.js';
import type { BuildPhase } from './progress.js';
import { mirrorLinesFor, readHostAptArchives, type AptArchives } from './apt-mirrors.js';

export const MINIMAL_RECIPE_VERSION = 1;
export const MINIMAL_SUITE = 'bookworm';
export const MINIMAL_PACKAGES = [
  'bash', 'coreutils', 'ca-certificates', 'curl', 'git', 'python3', 'python3-pip',
  'procps', 'sudo', 'iproute2', 'less', 'nano',
];

interface TemplateUser {
  name: string;
  uid: number;
}
const USERS: TemplateUser[] = [
  { name: 'wrenn-user', uid: 1000 },
  { name: 'user', uid: 1001 },
];

/** mmdebstrap's status lines (stderr, one per phase) and the phase each one starts. */
const MMDEBSTRAP_PHASES: Array<{ line: RegExp; phase: BuildPhase }> = [
  { line: /running apt-get update/, phase: { message: 'updating package lists', weight: 6 } },
  { line: /downloading packages/, phase: { message: 'downloading packages', weight: 20 } },
  { line: /extracting archives/, phase: { message: 'extracting packages', weight: 8 } },
  { line: /installing essential packages/, phase: { message: 'installing essential packages', weight: 20 } },
  { line: /installing remaining packages/, phase: { message: 'installing packages', weight: 35 } },
  { line: /cleaning package lists/, phase: { message: 'cleaning apt caches', weight: 2 } },
];
const CONFIGURE_PHASE: BuildPhase = { message: 'creating users and sudo rules', weight: 3 };

export interface MinimalRecipeOptions {
  /** Where packages come from; default: the archives in the host's apt sources. */
  archives?: AptArchives;
}

export function minimalRecipe(opts: MinimalRecipeOptions = {}): TemplateRecipe {
  const phases = [...MMDEBSTRAP_PHASES.map((p) => p.phase), CONFIGURE_PHASE];
  return {
    source: { kind: 'minimal', recipeVersion: MINIMAL_RECIPE_VERSION },
    phases,
    async build(ctx) {
      const archives = opts.archives ?? (await readHostAptArchives());
      const mirrors = mirrorLinesFor(MINIMAL_SUITE, archives);
      ctx.logger.info({ mirrors }, 'running mmdebstrap');
      ctx.phase(0);
      let pending = '';
      let reached = 0;
      const onStderr = (chunk: Buffer) => {
        pending += chunk.toString('utf8');
        const lines = pending.split(/\r|\n/);
        pending = lines.pop() ?? '';
        for (const line of lines) {
          const index = MMDEBSTRAP_PHASES.findIndex((p) => p.line.test(line));
          if (index > reached) {
            reached = index;
            ctx.phase(index);
          }
        }
      };
      await run(
        'unshare',
        [
          '--mount', '--propagation', 'private', '--pid', '--fork', '--kill-child=SIGKILL', '--',
          'mmdebstrap', '--mode=root', '--variant=minbase', `--include=${MINIMAL_PACKAGES.join(',')}`,
          MINIMAL_SUITE, ctx.rootfsDir, ...mirrors,
        ],
        { signal: ctx.signal, onStderr, env: { ...process.env, LC_ALL: 'C.UTF-8' } },
      );

      ctx.phase(phases.length - 1);
      await configureTree(ctx.rootfsDir, ctx.signal);
      return { defaultUser: 'wrenn-user', defaultWorkdir: '/home/wrenn-user', defaultEnv: {} };
    },
  };
}

async function configureTree(root: string, signal?: AbortSignal): Promise<void> {
  for (const user of USERS) {
    await run('chroot', [root, 'useradd', '--create-home', '--uid', String(user.uid), '--user-group', '--shell', '/bin/bash', user.name], { signal });
    await replaceFile(join(root, 'etc/sudoers.d', user.name), `${user.name} ALL=(ALL:ALL) NOPASSWD: ALL\n`, 0o440);
    await run('chroot', [root, 'visudo', '--check', '--quiet', '--file', `/etc/sudoers.d/${user.name}`], { signal });
  }
  // mmdebstrap copies the build host's identity and resolver; a capsule gets its own at start.
  await replaceFile(join(root, 'etc/hostname'), 'wrenn\n', 0o644);
  await replaceFile(join(root, 'etc/hosts'), '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n', 0o644);
  await replaceFile(join(root, 'etc/resolv.conf'), '', 0o644);
  // mmdebstrap already empties the apt cache and lists; these are what it leaves.
  await removeEntries(join(root, 'var/cache/apt'), (name) => name.endsWith('.bin'));
  await removeEntries(join(root, 'var/lib/apt/lists'), (name) => name !== 'lock' && name !== 'partial');
  await mkdir(join(root, 'var/lib/apt/lists/partial'), { recursive: true });
}

/**
 * Writes a fresh file in the tree. Never writes through what is there: a symlink in the
 * tree (e.g. /etc/resolv.conf -> /run/...) would otherwise lead the write onto the host.
 */
async function replaceFile(path: string, content: string, mode: number): Promise<void> {
  await rm(path, { force: true });
  await writeFile(path, content, { mode, flag: 'wx' });
  await chmod(path, mode); // umask may have narrowed it
}

async function removeEntries(dir: string, match: (name: string) => boolean): Promise<void> {
  for (const name of await readdir(dir).catch(() => [] as string[])) {
    if (match(name)) await rm(join(dir, name), { recursive: true, force: true });
  }
}
