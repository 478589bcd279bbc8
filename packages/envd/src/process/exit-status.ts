/**
 * How a process ended, worded the way the envd protocol has always reported it: clients
 * (the e2b SDK among them) show `status` to users, and it comes from Go's
 * `os.ProcessState.String()` ("exit status 3", "signal: killed").
 */
import { constants } from 'node:os';

/** What the OS told us: an exit code, or the signal that terminated the process. */
export interface ChildExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

/** The terminal event of a process, cached on it and sent to every client (docs/decisions.md#e1). */
export interface EndInfo {
  /** Exit code, or -1 when a signal ended the process. */
  readonly exitCode: number;
  /** True only for a normal exit (not killed by a signal). */
  readonly exited: boolean;
  readonly status: string;
  /** Set when the process did not exit with 0: the status text, or what went wrong. */
  readonly error?: string;
}

/** Go's strings for Linux signals (syscall.Signal.String()). */
const GO_SIGNAL_TEXT: Partial<Record<NodeJS.Signals, string>> = {
  SIGHUP: 'hangup',
  SIGINT: 'interrupt',
  SIGQUIT: 'quit',
  SIGILL: 'illegal instruction',
  SIGTRAP: 'trace/breakpoint trap',
  SIGABRT: 'aborted',
  SIGBUS: 'bus error',
  SIGFPE: 'floating point exception',
  SIGKILL: 'killed',
  SIGUSR1: 'user defined signal 1',
  SIGSEGV: 'segmentation fault',
  SIGUSR2: 'user defined signal 2',
  SIGPIPE: 'broken pipe',
  SIGALRM: 'alarm clock',
  SIGTERM: 'terminated',
  SIGSTKFLT: 'stack fault',
  SIGCHLD: 'child exited',
  SIGCONT: 'continued',
  SIGSTOP: 'stopped (signal)',
  SIGTSTP: 'stopped',
  SIGTTIN: 'stopped (tty input)',
  SIGTTOU: 'stopped (tty output)',
  SIGURG: 'urgent I/O condition',
  SIGXCPU: 'CPU time limit exceeded',
  SIGXFSZ: 'file size limit exceeded',
  SIGVTALRM: 'virtual timer expired',
  SIGPROF: 'profiling timer expired',
  SIGWINCH: 'window changed',
  SIGIO: 'I/O possible',
  SIGPWR: 'power failure',
  SIGSYS: 'bad system call',
};

/** Signal name for a number (node-pty reports numbers, child_process names). */
export function signalName(signo: number): NodeJS.Signals | null {
  if (!signo) return null;
  for (const [name, n] of Object.entries(constants.signals)) {
    if (n === signo) return name as NodeJS.Signals;
  }
  return null;
}

export function endInfoOf(exit: ChildExit): EndInfo {
  if (exit.signal) {
    const text = GO_SIGNAL_TEXT[exit.signal] ?? `signal ${constants.signals[exit.signal] ?? exit.signal}`;
    const status = `signal: ${text}`;
    return { exitCode: -1, exited: false, status, error: status };
  }
  const code = exit.code ?? -1;
  const status = `exit status ${code}`;
  return code === 0 ? { exitCode: 0, exited: true, status } : { exitCode: code, exited: true, status, error: status };
}
