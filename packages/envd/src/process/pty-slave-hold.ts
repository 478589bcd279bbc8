/**
 * Keeps the slave end of a PTY open until its child has exited and its output is read.
 *
 * Closing the slave while output is still in the kernel's PTY buffers loses that output:
 * the master reads EIO before it is drained (the tail of a program's output vanished).
 * And some programs (cat, for one) close all their terminal fds before exiting; the
 * master then reads EIO, node-pty closes it, and the kernel hangs the terminal up: the
 * child, still alive for a moment, dies of SIGHUP and reports "signal: hangup" instead
 * of its exit status. While envd holds the slave open the master never sees EIO. Once
 * SIGCHLD shows the child is gone, the PTY is read without back-pressure (node-pty closes
 * it shortly after the exit, and what is left is bounded by the kernel's buffers) and
 * the hold is released when output has been quiet for QUIET_MS, or at the latest when
 * node-pty reports the exit.
 */
import { closeSync, constants, existsSync, openSync, readFileSync } from 'node:fs';

/** Output silence, after the child is gone, that means the PTY has been drained. */
const QUIET_MS = 20;

const holds = new Map<number, PtySlaveHold>();
let procAvailable: boolean | undefined;

export class PtySlaveHold {
  private fd: number | undefined;
  private gone = false;
  private lastOutputAt = 0;
  private quietTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly pid: number,
    slavePath: string | undefined,
    private readonly onChildGone: () => void,
  ) {
    procAvailable ??= existsSync('/proc/self/stat');
    if (!slavePath) return;
    try {
      // O_NOCTTY: the terminal must never become envd's controlling terminal.
      this.fd = openSync(slavePath, constants.O_RDWR | constants.O_NOCTTY | constants.O_NONBLOCK);
    } catch {
      return;
    }
    if (holds.size === 0) process.on('SIGCHLD', checkHolds);
    holds.set(pid, this);
    // The child may already be gone (it ran between fork and this open).
    if (hasExited(pid)) this.childGone();
  }

  /** Called for every output chunk, so the release waits until the PTY is drained. */
  noteOutput(): void {
    this.lastOutputAt = Date.now();
  }

  release(): void {
    clearTimeout(this.quietTimer);
    this.quietTimer = undefined;
    holds.delete(this.pid);
    if (holds.size === 0) process.off('SIGCHLD', checkHolds);
    if (this.fd === undefined) return;
    closeSync(this.fd);
    this.fd = undefined;
  }

  childGone(): void {
    if (this.gone) return;
    this.gone = true;
    holds.delete(this.pid);
    if (holds.size === 0) process.off('SIGCHLD', checkHolds);
    this.onChildGone();
    this.lastOutputAt = Date.now();
    this.releaseWhenQuiet();
  }

  private releaseWhenQuiet(): void {
    const quietFor = Date.now() - this.lastOutputAt;
    if (quietFor >= QUIET_MS) {
      this.release();
      return;
    }
    this.quietTimer = setTimeout(() => this.releaseWhenQuiet(), QUIET_MS - quietFor);
  }
}

function checkHolds(): void {
  for (const [pid, hold] of holds) if (hasExited(pid)) hold.childGone();
}

/** A zombie or a reaped pid has exited; without /proc we cannot tell and keep holding. */
function hasExited(pid: number): boolean {
  if (!procAvailable) return false;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
  } catch {
    return true;
  }
}
