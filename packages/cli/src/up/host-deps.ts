/**
 * Host prerequisites of `wrenn up`: the tools the host agent runs (runc, tini, nftables,
 * iproute2, e2fsprogs, util-linux; mmdebstrap to build the base template) and the envd
 * bundle. Missing ones are installed by the repository's scripts/setup.sh when it is there;
 * otherwise the user is told exactly what to install.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

interface Requirement {
  name: string;
  /** Present when this returns true. */
  present: () => boolean;
  /** Debian package that provides it. */
  apt?: string;
  hint?: string;
}

function onPath(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

export function requirements(repoRoot: string, needTemplateBuild: boolean): Requirement[] {
  const reqs: Requirement[] = [
    { name: 'runc', present: () => onPath('runc'), apt: 'runc' },
    { name: 'tini-static', present: () => existsSync('/usr/bin/tini-static'), apt: 'tini' },
    { name: 'nft', present: () => onPath('nft'), apt: 'nftables' },
    { name: 'ip', present: () => onPath('ip'), apt: 'iproute2' },
    { name: 'mkfs.ext4', present: () => onPath('mkfs.ext4'), apt: 'e2fsprogs' },
    { name: 'losetup', present: () => onPath('losetup'), apt: 'util-linux' },
    {
      name: 'envd bundle',
      present: () => existsSync(join(repoRoot, 'packages/envd/dist/envd.cjs')),
      hint: `build it: (cd ${repoRoot} && npm run build)`,
    },
  ];
  if (needTemplateBuild) reqs.push({ name: 'mmdebstrap', present: () => onPath('mmdebstrap'), apt: 'mmdebstrap' });
  return reqs;
}

export function missing(reqs: Requirement[]): Requirement[] {
  return reqs.filter((r) => !r.present());
}

export function installAdvice(miss: Requirement[]): string {
  const apt = [...new Set(miss.map((r) => r.apt).filter((p): p is string => !!p))];
  const lines = [`missing: ${miss.map((r) => r.name).join(', ')}`];
  if (apt.length) lines.push(`install them: apt-get install -y --no-install-recommends ${apt.join(' ')}`);
  for (const r of miss) if (r.hint) lines.push(r.hint);
  return lines.join('\n');
}

/** Runs scripts/setup.sh with the terminal attached; resolves with its exit code. */
export function runSetup(repoRoot: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', [join(repoRoot, 'scripts/setup.sh')], { stdio: 'inherit', cwd: repoRoot });
    child.on('error', reject);
    child.on('close', (code) => resolve(code ?? 1));
  });
}

/**
 * Checks the host; runs setup.sh for what is missing when allowed and available; throws
 * with install instructions when something is still missing.
 */
export async function ensureHostDeps(opts: { repoRoot: string; needTemplateBuild: boolean; allowSetup: boolean; log: (line: string) => void }): Promise<void> {
  const reqs = requirements(opts.repoRoot, opts.needTemplateBuild);
  let miss = missing(reqs);
  if (miss.length === 0) return;
  const setup = join(opts.repoRoot, 'scripts/setup.sh');
  if (opts.allowSetup && existsSync(setup)) {
    opts.log(`host dependencies missing (${miss.map((r) => r.name).join(', ')}): running scripts/setup.sh`);
    const code = await runSetup(opts.repoRoot);
    if (code !== 0) throw new Error(`scripts/setup.sh failed (exit ${code}); fix what it reports and run wrenn up again`);
    miss = missing(reqs);
    if (miss.length === 0) return;
  }
  throw new Error(installAdvice(miss));
}
