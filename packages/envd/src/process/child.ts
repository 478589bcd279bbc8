/**
 * The one small interface both kinds of child implement: a process on pipes
 * (pipe-child.ts) and a process on a PTY (pty-child.ts). Keeping them apart means waiting
 * on a pipe process never touches PTY state (docs/decisions.md#e2), and everything above this file treats
 * both alike.
 */
import type { ChildExit } from './exit-status.js';

export type OutputStream = 'stdout' | 'stderr' | 'pty';

/** What a child reports; given at spawn time so no early output can be missed. */
export interface ChildSink {
  output(stream: OutputStream, data: Buffer): void;
  /** Called once, after the last output. */
  exit(exit: ChildExit): void;
}

/** Everything needed to start a child, already validated (see launch.ts). */
export interface LaunchSpec {
  /** Resolved path of the executable. */
  readonly file: string;
  /** The command as the client gave it (argv[0]). */
  readonly cmd: string;
  readonly args: readonly string[];
  readonly cwd: string;
  readonly env: Record<string, string>;
  readonly uid: number;
  readonly gid: number;
  readonly groups: readonly number[];
  /** Keep stdin open for input (pipe children only). */
  readonly stdin: boolean;
  readonly pty?: { readonly cols: number; readonly rows: number };
}

export interface ChildHandle {
  readonly pid: number;
  readonly kind: 'pipe' | 'pty';
  /** Writes input (stdin, or the PTY); resolves once the child can take more. */
  write(data: Uint8Array, signal?: AbortSignal): Promise<void>;
  closeStdin(): void;
  resize(cols: number, rows: number): void;
  /** Stops reading output (back-pressure): the child blocks once the kernel buffer fills. */
  pause(): void;
  resume(): void;
  /** Signals the child's whole process group (it is a group leader), so its children die too. */
  signalGroup(signal: NodeJS.Signals): void;
  /** Releases output pipes still held open by escaped grandchildren, so `exit` can fire. */
  release(): void;
}

/** Options for uid/gid: only ask the kernel to switch when we are not that user already. */
export function credentialsFor(spec: LaunchSpec): { uid?: number; gid?: number } {
  const self = process.getuid?.();
  if (self === spec.uid && process.getgid?.() === spec.gid) return {};
  return { uid: spec.uid, gid: spec.gid };
}

/**
 * Sends `signal` to process group `pid`; a group that is already gone is not an error.
 * With `orLeader`, a missing group falls back to signalling the process `pid` itself.
 */
export function killGroup(pid: number, signal: NodeJS.Signals, orLeader = false): void {
  for (const target of orLeader ? [-pid, pid] : [-pid]) {
    try {
      process.kill(target, signal);
      return;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
    }
  }
}
