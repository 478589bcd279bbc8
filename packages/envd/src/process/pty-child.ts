/**
 * A child on a pseudo-terminal (node-pty): one output stream, input typed into the
 * terminal, resizable. node-pty's child calls setsid, so it leads its own process group.
 */
import { spawn as spawnPty, type IPty } from 'node-pty';
import { WrennError } from '@wrenn/shared';
import { credentialsFor, killGroup, type ChildHandle, type ChildSink, type LaunchSpec } from './child.js';
import { signalName } from './exit-status.js';
import { PtySlaveHold } from './pty-slave-hold.js';
import { spawning } from './oom-score.js';

export const PTY_TERM = 'xterm-256color';
/** How long after forkpty a missing process group still means "setsid not called yet". */
const PRE_SETSID_WINDOW_MS = 1_000;

export class PtyChild implements ChildHandle {
  readonly kind = 'pty';

  readonly pid: number;
  private readonly spawnedAt = Date.now();
  private readonly slaveHold: PtySlaveHold;
  /** The child has exited: what is left in the PTY must be read before node-pty closes it. */
  private gone = false;

  private constructor(private readonly pty: IPty) {
    this.pid = pty.pid;
    this.slaveHold = new PtySlaveHold(pty.pid, (pty as unknown as { ptsName?: string }).ptsName, () => {
      this.gone = true;
      this.pty.resume();
    });
  }

  static spawn(spec: LaunchSpec, sink: ChildSink): PtyChild {
    if (!spec.pty) throw new Error('PtyChild.spawn needs a pty size');
    const credentials = credentialsFor(spec);
    // forkpty is synchronous: the child starts killable by the OOM killer (oom-score.ts).
    const pty = withSupplementaryGroups(credentials.uid === undefined ? undefined : spec.groups, () =>
      spawning(() => spawnPty(spec.file, [...spec.args], {
        name: PTY_TERM,
        cols: spec.pty!.cols,
        rows: spec.pty!.rows,
        cwd: spec.cwd,
        env: { ...spec.env, TERM: PTY_TERM },
        ...credentials,
        // Raw bytes: output is not necessarily UTF-8 and must reach the client unchanged.
        encoding: null,
      })),
    );
    const child = new PtyChild(pty);
    pty.onData((data) => {
      child.slaveHold.noteOutput();
      sink.output('pty', Buffer.isBuffer(data) ? data : Buffer.from(data));
    });
    pty.onExit(({ exitCode, signal }) => {
      child.slaveHold.release();
      const name = signalName(signal ?? 0);
      sink.exit(name ? { code: null, signal: name } : { code: exitCode, signal: null });
    });
    return child;
  }

  async write(data: Uint8Array): Promise<void> {
    // node-pty queues writes itself and retries on EAGAIN.
    this.pty.write(Buffer.from(data.buffer, data.byteOffset, data.byteLength));
  }

  closeStdin(): void {
    throw new WrennError(
      'failed_precondition',
      `process ${this.pid} runs on a PTY, which has no stdin to close; send Ctrl-D (\\x04) as PTY input to signal end of input`,
      { pid: this.pid },
    );
  }

  resize(cols: number, rows: number): void {
    this.pty.resize(cols, rows);
  }

  pause(): void {
    if (!this.gone) this.pty.pause();
  }

  resume(): void {
    this.pty.resume();
  }

  signalGroup(signal: NodeJS.Signals): void {
    // Right after forkpty the child may not have called setsid yet, so its group does not
    // exist for a moment; then the child itself is signalled (it has no children yet).
    // Only early on: later, a pid without a group is one node-pty has reaped.
    killGroup(this.pid, signal, Date.now() - this.spawnedAt < PRE_SETSID_WINDOW_MS);
  }

  release(): void {
    // node-pty destroys its socket itself shortly after the child exits.
    this.slaveHold.release();
  }
}

/**
 * node-pty switches uid/gid in the child but keeps the parent's supplementary groups.
 * While forking (synchronously) envd, which runs as root, temporarily takes the user's
 * groups so the child inherits exactly those.
 */
function withSupplementaryGroups<T>(groups: readonly number[] | undefined, fork: () => T): T {
  if (!groups || process.getuid?.() !== 0 || !process.setgroups || !process.getgroups) return fork();
  const saved = process.getgroups();
  process.setgroups([...groups]);
  try {
    return fork();
  } finally {
    process.setgroups(saved);
  }
}
