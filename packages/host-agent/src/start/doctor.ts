/** `wrenn-agent doctor`: checks the host's prerequisites and says what is missing and how to fix it. */
import { existsSync } from 'node:fs';
import { run } from '../infra/exec.js';
import { detectCgroupLayout } from '../infra/cgroup/index.js';
import { probeCriu, type CriuSupport } from '../infra/criu/criu-probe.js';
import type { AgentConfig } from './config.js';

interface Check {
  name: string;
  ok: boolean;
  detail: string;
}

async function tool(cmd: string, args: string[]): Promise<{ ok: boolean; out: string }> {
  try {
    const r = await run(cmd, args, { allowFailure: true, timeoutMs: 20_000 });
    return { ok: r.code === 0, out: (r.stdout + r.stderr).trim().split('\n')[0] ?? '' };
  } catch (err) {
    return { ok: false, out: (err as Error).message };
  }
}

export async function runDoctor(config: AgentConfig): Promise<boolean> {
  const checks: Check[] = [];
  checks.push({ name: 'root', ok: process.getuid?.() === 0, detail: 'the agent needs root (namespaces, mounts, nftables)' });
  const runc = await tool(config.runcPath, ['--version']);
  checks.push({ name: 'runc', ok: runc.ok, detail: runc.ok ? runc.out : `not working: ${runc.out} (apt-get install runc)` });
  checks.push({ name: 'tini', ok: existsSync('/usr/bin/tini-static'), detail: '/usr/bin/tini-static (apt-get install tini)' });
  for (const [name, args] of [
    ['mkfs.ext4', ['-V']],
    ['losetup', ['--version']],
    ['nft', ['--version']],
    ['ip', ['-V']],
    ['mmdebstrap', ['--version']],
  ] as const) {
    const r = await tool(name, [...args]);
    checks.push({ name, ok: r.ok, detail: r.out });
  }
  const layout = await detectCgroupLayout().catch(() => undefined);
  checks.push({ name: 'cgroups', ok: !!layout, detail: layout ? `mode ${layout.mode}` : 'cannot detect the cgroup layout' });
  // Never a failure: without CRIU, pause is filesystem-only; without lazy restore, resumes are eager.
  const criu = await probeCriu(config.criuPath);
  checks.push({
    name: 'pause',
    ok: true,
    detail: criu.memory ? `memory snapshots (criu ${criu.version ?? '?'} at ${criu.criuPath})` : `filesystem-only (${criu.detail}; run scripts/install-criu.sh)`,
  });
  if (criu.memory) checks.push({ name: 'lazy restore', ok: true, detail: lazyRestoreDetail(config, criu) });
  for (const c of checks) process.stdout.write(`${c.ok ? 'ok  ' : 'FAIL'} ${c.name.padEnd(26)} ${c.detail}\n`);
  return checks.every((c) => c.ok);
}

/** What a resume will do with memory, and what would change it. */
export function lazyRestoreDetail(config: Pick<AgentConfig, 'lazyRestore'>, criu: CriuSupport): string {
  if (config.lazyRestore === 'off') return 'off: resumes restore memory eagerly (WRENN_LAZY_RESTORE=off)';
  if (!criu.uffd) return `off: ${criu.detail}`;
  const sysctl = criu.lazyPages
    ? 'vm.unprivileged_userfaultfd=1'
    : 'vm.unprivileged_userfaultfd=0 now; the agent sets it to 1 at start (capsules cannot use userfaultfd: seccomp). WRENN_LAZY_RESTORE=off keeps it 0 and restores eagerly';
  const shim = criu.lazyPagesPreload
    ? `lazy-pages shim ${criu.lazyPagesPreload}`
    : 'no lazy-pages shim: the first exec after a large lazy resume waits for background copying (install a C compiler and run scripts/install-criu.sh again)';
  return `on (${sysctl}; ${shim})`;
}