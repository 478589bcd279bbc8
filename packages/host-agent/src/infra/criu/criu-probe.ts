/**
 * What this host can do with CRIU, asked of CRIU itself once at agent start (and by
 * `wrenn-agent doctor`):
 * - memory: `criu check` passes, so pause can take memory snapshots;
 * - uffd: CRIU supports non-cooperative userfaultfd, so restore can load memory on demand;
 * - lazyPages: and it may now: the restored capsule processes, which run in a user
 *   namespace, may only open a userfaultfd when `vm.unprivileged_userfaultfd` is 1 (capsule
 *   code itself stays unable to: the seccomp profile refuses the syscall). The agent turns
 *   the sysctl on where allowed (userfaultfd-sysctl.ts);
 * - lazyPagesPreload: the lazy-pages shim scripts/install-criu.sh builds next to CRIU.
 * Anything else means filesystem-only pause.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { run } from '../exec.js';
import { readUnprivilegedUserfaultfd } from './userfaultfd-sysctl.js';

export interface CriuSupport {
  /** The binary or wrapper probed. */
  criuPath: string;
  version?: string;
  memory: boolean;
  /** CRIU can restore lazily (non-cooperative userfaultfd). */
  uffd: boolean;
  /** ... and the host lets restored capsules open a userfaultfd now. */
  lazyPages: boolean;
  /** The lazy-pages shim (scripts/criu/lazy-pages-shim.c), when installed. */
  lazyPagesPreload?: string;
  /** Why a feature is missing (for logs and doctor). */
  detail: string;
}

/** The private install of scripts/install-criu.sh. */
export const CRIU_WRAPPER = '/opt/wrenn/criu/bin/criu';
/** Where scripts/install-criu.sh puts the lazy-pages shim, relative to the install prefix. */
const LAZY_PAGES_SHIM = 'lib/wrenn/lazy-pages-shim.so';

/** The lazy-pages shim of the install `criuPath` belongs to (`PREFIX/bin/criu`), else of the default one. */
export function lazyPagesShim(criuPath: string): string | undefined {
  const own = criuPath.startsWith('/') ? [join(dirname(dirname(criuPath)), LAZY_PAGES_SHIM)] : [];
  return [...own, join(dirname(dirname(CRIU_WRAPPER)), LAZY_PAGES_SHIM)].find((p) => existsSync(p));
}

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

export async function probeCriu(criuPath: string, signal?: AbortSignal): Promise<CriuSupport> {
  const version = await criu(criuPath, ['--version'], signal);
  if (!version.ok) return { criuPath, memory: false, uffd: false, lazyPages: false, detail: `criu not runnable: ${lastLine(version.out)}` };
  const v = /Version:\s*(\S+)/.exec(version.out)?.[1];
  const check = await criu(criuPath, ['check'], signal);
  if (!check.ok) {
    return { criuPath, ...(v ? { version: v } : {}), memory: false, uffd: false, lazyPages: false, detail: `criu check failed: ${lastLine(check.out)}` };
  }
  const uffd = await criu(criuPath, ['check', '--feature', 'uffd-noncoop'], signal);
  const sysctl = await readUnprivilegedUserfaultfd();
  const lazyPages = uffd.ok && sysctl;
  const preload = uffd.ok ? lazyPagesShim(criuPath) : undefined;
  const detail = lazyPages
    ? 'memory snapshots with lazy restore'
    : !uffd.ok
      ? `memory snapshots, eager restore (criu: ${lastLine(uffd.out)})`
      : 'memory snapshots, eager restore (lazy restore needs sysctl vm.unprivileged_userfaultfd=1)';
  return { criuPath, ...(v ? { version: v } : {}), memory: true, uffd: uffd.ok, lazyPages, ...(preload ? { lazyPagesPreload: preload } : {}), detail };
}

function lastLine(text: string): string {
  return text.split('\n').filter(Boolean).at(-1) ?? 'no output';
}
