/**
 * `criu lazy-pages`: the daemon that serves a lazily restored capsule's memory from its
 * image on page faults (userfaultfd) and pushes the rest in the background. It must listen
 * before `runc restore --lazy-pages` starts (the restore connects to its socket in the image
 * dir) and exits by itself once every page has been delivered, or when the restored
 * processes are gone. Only then may the image be deleted.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { sleep, WrennError } from '@wrenn/shared';

/** CRIU's socket name in the work dir (criu/uffd.c: LAZY_PAGES_SOCK_NAME). */
export const LAZY_PAGES_SOCKET = 'lazy-pages.socket';

export interface LazyPagesDaemon {
  readonly pid: number;
  /** Resolves when the daemon exited (all pages delivered, or the processes went away). */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** SIGKILLs the daemon (a failed restore); resolves once it is reaped. */
  kill(): Promise<void>;
}

export async function startLazyPagesDaemon(
  criuPath: string,
  imageDir: string,
  opts: { workDir?: string; readyTimeoutMs?: number; signal?: AbortSignal; preload?: string } = {},
): Promise<LazyPagesDaemon> {
  const workDir = opts.workDir ?? imageDir;
  const child: ChildProcess = spawn(criuPath, ['lazy-pages', '--images-dir', imageDir, '--work-dir', workDir, '--log-file', 'lazy-pages.log'], {
    stdio: 'ignore',
    // The shim (scripts/criu/lazy-pages-shim.c): faults before background copying, none lost.
    ...(opts.preload ? { env: { ...process.env, LD_PRELOAD: opts.preload } } : {}),
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
    child.once('error', () => resolve({ code: null, signal: null }));
  });
  let gone = false;
  void exited.then(() => (gone = true));
  const daemon: LazyPagesDaemon = {
    pid: child.pid ?? 0,
    exited,
    kill: async () => {
      if (!gone) child.kill('SIGKILL');
      await exited;
    },
  };
  const deadline = Date.now() + (opts.readyTimeoutMs ?? 5000);
  const socket = join(workDir, LAZY_PAGES_SOCKET);
  while (!existsSync(socket)) {
    if (gone || opts.signal?.aborted || Date.now() > deadline) {
      await daemon.kill();
      throw new WrennError('internal', `criu lazy-pages did not start serving ${imageDir} (see lazy-pages.log in ${workDir})`, { imageDir });
    }
    await sleep(2);
  }
  return daemon;
}
