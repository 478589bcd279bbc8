/**
 * Runs agent code at the moment a `runc restore` has created the sandbox's namespaces but
 * not yet restored its processes (CRIU's setup-namespaces step, where runc runs the
 * createRuntime hooks with the restored init's PID). The network is plumbed from there.
 *
 * The hook is a tiny step talking to the agent over FIFOs in the bundle dir: it writes
 * runc's state (JSON with the PID) into `restore-hook.state`. Two kinds:
 * - `wait` (the image holds TCP connections: CRIU re-opens them only if the address and
 *   route exist by then, "Can't connect inet socket back: Network is unreachable"
 *   otherwise): a shell step that then waits for one line from `restore-hook.reply`;
 *   anything but `ok` fails the hook, hence the restore;
 * - otherwise `tee` alone: the restore goes on at once and the callback runs beside it.
 * The FIFOs stay in the bundle for the next restore (making them is a process).
 */
import { close as closeFd, constants, open as openFd, promises as fsp, write as writeFd } from 'node:fs';
import { existsSync } from 'node:fs';
import { promisify } from 'node:util';
import { Socket } from 'node:net';
import { join } from 'node:path';
import { WrennError } from '@wrenn/shared';
import { run } from '../../exec.js';
import type { OciHook } from './oci-spec.js';

const STATE_FIFO = 'restore-hook.state';
const REPLY_FIFO = 'restore-hook.reply';
/** runc kills a hook after this many seconds (the callback's deadline). */
const HOOK_TIMEOUT_SEC = 60;
const TEE = '/usr/bin/tee';

export interface RestoreHook {
  /** The createRuntime hook for config.json. */
  readonly hook: OciHook;
  /** Resolves once runc called the hook with a PID (the callback has started); rejects if runc's state had none. */
  readonly called: Promise<void>;
  /** Resolves when the callback has run (or rejects with its error). */
  readonly done: Promise<void>;
  /** When runc called the hook and when the callback finished (ms since epoch; for logs). */
  readonly timings: { calledAt?: number; finishedAt?: number };
  /** Stops listening (after runc returned, on every path); the FIFOs stay for the next restore. */
  close(): Promise<void>;
}

/** Makes `path` a FIFO unless it already is one. */
async function ensureFifo(path: string): Promise<void> {
  const st = await fsp.lstat(path).catch(() => undefined);
  if (st?.isFIFO()) return;
  if (st) await fsp.rm(path, { force: true });
  await run('mkfifo', ['-m', '0600', path]);
}

export async function createRestoreHook(
  bundleDir: string,
  onNamespacesReady: (pid: number) => Promise<void>,
  opts: { wait: boolean } = { wait: true },
): Promise<RestoreHook> {
  const wait = opts.wait || !existsSync(TEE);
  const statePath = join(bundleDir, STATE_FIFO);
  const replyPath = join(bundleDir, REPLY_FIFO);
  await Promise.all([ensureFifo(statePath), wait ? ensureFifo(replyPath) : undefined]);
  // Non-blocking opens: the state FIFO is read as a stream (cancellable by destroy), and
  // O_RDWR on the reply FIFO never blocks and keeps the reply buffered until the hook reads it.
  const open = promisify(openFd);
  const stateFd = await open(statePath, constants.O_RDONLY | constants.O_NONBLOCK);
  const replyFd = wait
    ? await open(replyPath, constants.O_RDWR | constants.O_NONBLOCK).catch((err: unknown) => {
        closeFd(stateFd, () => {});
        throw err;
      })
    : undefined;
  const stateStream = new Socket({ fd: stateFd, readable: true, writable: false });
  let received = '';
  const timings: { calledAt?: number; finishedAt?: number } = {};
  let markCalled: (err?: unknown) => void = () => {};
  const called = new Promise<void>((resolve, reject) => (markCalled = (err) => (err === undefined ? resolve() : reject(err))));
  called.catch(() => {});
  const done = new Promise<void>((resolve, reject) => {
    stateStream.on('data', (b: Buffer) => (received += b.toString('utf8')));
    stateStream.once('error', reject);
    stateStream.once('end', () => {
      void (async () => {
        let reply = 'ok';
        timings.calledAt = Date.now();
        try {
          let pid = NaN;
          try {
            pid = Number((JSON.parse(received) as { pid?: number }).pid);
          } catch {
            // reported below
          }
          if (!Number.isInteger(pid) || pid <= 0) throw new WrennError('internal', `restore hook got no PID from runc: ${received.slice(0, 200)}`);
          const ready = onNamespacesReady(pid);
          markCalled();
          await ready;
          resolve();
        } catch (err) {
          markCalled(err);
          reply = 'fail';
          reject(err);
        }
        timings.finishedAt = Date.now();
        if (replyFd !== undefined) await promisify(writeFd)(replyFd, `${reply}\n`).catch(() => {});
      })();
    });
  });
  done.catch(() => {});
  const hook: OciHook = wait
    ? {
        path: '/bin/sh',
        args: ['sh', '-c', 'cat > "$1" && read -r answer < "$2" && [ "$answer" = ok ]', 'restore-hook', statePath, replyPath],
        timeout: HOOK_TIMEOUT_SEC,
      }
    : // tee copies runc's state (its stdin) into the FIFO; its echo on stdout runc shows only if the hook fails.
      { path: TEE, args: ['tee', statePath], timeout: HOOK_TIMEOUT_SEC };
  return {
    hook,
    called,
    done,
    timings,
    // Only after runc returned: runc waits for its hooks, so the state was written (and a reply read).
    close: async () => {
      stateStream.destroy();
      if (replyFd !== undefined) await promisify(closeFd)(replyFd).catch(() => {});
    },
  };
}
