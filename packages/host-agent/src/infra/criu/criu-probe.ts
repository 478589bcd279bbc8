/**
 * What this host can do with CRIU, asked of CRIU itself once at agent start (and by
 * `wrenn-agent doctor`):
 * - memory: `criu check` passes, so pause can take memory snapshots;
 * - lazyPages: restore can load memory on demand (userfaultfd). CRIU must support
 *   non-cooperative uffd, and the restored capsule processes, which run in a user
 *   namespace, may only open a userfaultfd when `vm.unprivileged_userfaultfd` is 1 (capsule
 *   code itself stays unable to: the seccomp profile refuses the syscall).
 * Anything else means filesystem-only pause.
 */
import { readFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { run } from '../exec.js';

export interface CriuSupport {
  /** The binary or wrapper probed. */
  criuPath: string;
  version?: string;
  memory: boolean;
  lazyPages: boolean;
  /** Why a feature is missing (for logs and doctor). */
  detail: string;
}

/** The private install of scripts/install-criu.sh. */
export const CRIU_WRAPPER = '/opt/wrenn/criu/bin/criu';

/** WRENN_CRIU when set; else the private install when present; else `criu` from PATH. */
export function defaultCriuPath(env: NodeJS.ProcessEnv = process.env): string {
  if (env.WRENN_CRIU) return env.WRENN_CRIU;
  return existsSync(CRIU_WRAPPER) ? CRIU_WRAPPER : 'criu';
}

async function criu(criuPath: string, args: string[], signal?: AbortSignal): Promise<{ ok: boolean; out: string }> {
  try {
    const r = await run(criuPath, args, { allowFailure: true, timeoutMs: 30_000, ...(signal ? { signal } : {}) });
    return { ok: r.code === 0, out: `${r.stdout}${r.stderr}`.trim() };
  } catch (err) {
    return { ok: false, out: (err as Error).message };
  }
}

export async function unprivilegedUserfaultfd(): Promise<boolean> {
  return (await readFile('/proc/sys/vm/unprivileged_userfaultfd', 'utf8').catch(() => '0')).trim() === '1';
}

export async function probeCriu(criuPath: string, signal?: AbortSignal): Promise<CriuSupport> {
  const version = await criu(criuPath, ['--version'], signal);
  if (!version.ok) return { criuPath, memory: false, lazyPages: false, detail: `criu not runnable: ${lastLine(version.out)}` };
  const v = /Version:\s*(\S+)/.exec(version.out)?.[1];
  const check = await criu(criuPath, ['check'], signal);
  if (!check.ok) return { criuPath, ...(v ? { version: v } : {}), memory: false, lazyPages: false, detail: `criu check failed: ${lastLine(check.out)}` };
  const uffd = await criu(criuPath, ['check', '--feature', 'uffd-noncoop'], signal);
  const sysctl = await unprivilegedUserfaultfd();
  const lazyPages = uffd.ok && sysctl;
  const detail = lazyPages
    ? 'memory snapshots with lazy restore'
    : !uffd.ok
      ? `memory snapshots, eager restore (criu: ${lastLine(uffd.out)})`
      : 'memory snapshots, eager restore (lazy restore needs sysctl vm.unprivileged_userfaultfd=1)';
  return { criuPath, ...(v ? { version: v } : {}), memory: true, lazyPages, detail };
}

function lastLine(text: string): string {
  return text.split('\n').filter(Boolean).at(-1) ?? 'no output';
}
