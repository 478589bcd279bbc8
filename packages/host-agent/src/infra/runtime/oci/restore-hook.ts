/**
 * Runs agent code at the moment a `runc restore` has created the sandbox's namespaces but
 * not yet restored its processes (CRIU's setup-namespaces step, where runc runs the
 * createRuntime hooks with the restored init's PID). The network is plumbed there: CRIU
 * re-opens established TCP connections only if the address and route exist by then ("Can't
 * connect inet socket back: Network is unreachable" otherwise).
 *
 * The hook is a tiny shell step talking to the agent over two FIFOs in the bundle dir: it
 * writes runc's state (JSON with the PID) into `restore-hook.state` and waits for one line
 * from `restore-hook.reply`; anything but `ok` fails the hook, hence the restore.
 */
import { close as closeFd, constants, open as openFd, promises as fsp, write as writeFd } from 'node:fs';
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

export interface RestoreHook {
  /** The createRuntime hook for config.json. */
  readonly hook: OciHook;
  /** Resolves when the callback has run (or rejects with its error); for logs. */
  readonly done: Promise<void>;
  /** When runc called the hook and when the callback finished (ms since epoch; for logs). */
  readonly timings: { calledAt?: number; finishedAt?: number };
  /** Closes the FIFOs and removes them (after runc returned, on every path). */
  close(): Promise<void>;
}

export async function createRestoreHook(bundleDir: string, onNamespacesReady: (pid: number) => Promise<void>): Promise<RestoreHook> {
  const statePath = join(bundleDir, STATE_FIFO);
  const replyPath = join(bundleDir, REPLY_FIFO);
  await Promise.all([fsp.rm(statePath, { force: true }), fsp.rm(replyPath, { force: true })]);
  await run('mkfifo', ['-m', '0600', statePath, replyPath]);
  // Non-blocking opens: the state FIFO is read as a stream (cancellable by destroy), and
  // O_RDWR on the reply FIFO never blocks and keeps the reply buffered until the hook reads it.
  const open = promisify(openFd);
  const stateFd = await open(statePath, constants.O_RDONLY | constants.O_NONBLOCK);
  const replyFd = await open(replyPath, constants.O_RDWR | constants.O_NONBLOCK).catch((err: unknown) => {
    closeFd(stateFd, () => {});
    throw err;
  });
  const stateStream = new Socket({ fd: stateFd, readable: true, writable: false });
  let received = '';
  const timings: { calledAt?: number; finishedAt?: number } = {};
  const done = new Promise<void>((resolve, reject) => {
    stateStream.on('data', (b: Buffer) => (received += b.toString('utf8')));
    stateStream.once('error', reject);
    stateStream.once('end', () => {
      void (async () => {
        let reply = 'ok';
        timings.calledAt = Date.now();
        try {
          const pid = Number((JSON.parse(received) as { pid?: number }).pid);
          if (!Number.isInteger(pid) || pid <= 0) throw new WrennError('internal', `restore hook got no PID from runc: ${received.slice(0, 200)}`);
          await onNamespacesReady(pid);
          resolve();
        } catch (err) {
          reply = 'fail';
          reject(err);
        }
        timings.finishedAt = Date.now();
        await promisify(writeFd)(replyFd, `${reply}\n`).catch(() => {});
      })();
    });
  });
  done.catch(() => {});
  const script = 'cat > "$1" && read -r answer < "$2" && [ "$answer" = ok ]';
  return {
    hook: { path: '/bin/sh', args: ['sh', '-c', script, 'restore-hook', statePath, replyPath], timeout: HOOK_TIMEOUT_SEC },
    done,
    timings,
    // Only after runc returned: runc waits for its hooks, so the reply has been read.
    close: async () => {
      stateStream.destroy();
      await promisify(closeFd)(replyFd).catch(() => {});
      await Promise.all([fsp.rm(statePath, { force: true }), fsp.rm(replyPath, { force: true })]);
    },
  };
}
