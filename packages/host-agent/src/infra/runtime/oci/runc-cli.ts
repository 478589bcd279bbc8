/**
 * Spawns runc and turns its failures into WrennErrors carrying runc's own last error lines.
 *
 * Two ways to run it:
 * - `call`: ordinary commands (state, kill, pause, ...) with piped output;
 * - `callDetached`: `run -d` / `restore -d`, whose stdio the container inherits. Those get
 *   /dev/null (a host file or a pipe we stop reading would break CRIU or the capsule), so
 *   runc's errors are read back from its --log file instead.
 */
import { readFile, truncate } from 'node:fs/promises';
import { WrennError, type ErrorCode } from '@wrenn/shared';
import { run, type RunResult } from '../../exec.js';

export interface CallOptions {
  signal?: AbortSignal;
  timeoutMs?: number;
  /** Return runc's non-zero exit to the caller instead of throwing. */
  allowFailure?: boolean;
  /**
   * runc in a process group of its own, killed as a group on abort or timeout: CRIU (which
   * runc starts for checkpoint and restore) must not outlive a runc that was given up on.
   */
  processGroup?: boolean;
}

export class RuncCli {
  constructor(readonly runcPath: string) {}

  async call(args: string[], what: string, opts: CallOptions = {}): Promise<RunResult> {
    const result = await run(this.runcPath, args, { ...opts, allowFailure: true });
    if (result.code !== 0 && !opts.allowFailure) throw runcError(what, errorLines(result.stderr || result.stdout), result.code);
    return result;
  }

  /** Runs runc with stdio on /dev/null; `logFile` must be the file passed with --log. */
  async callDetached(args: string[], what: string, logFile: string, opts: Omit<CallOptions, 'allowFailure'> = {}): Promise<void> {
    await truncate(logFile).catch(() => {});
    const { code } = await run(this.runcPath, args, { ...opts, quiet: true, allowFailure: true });
    if (code === 0) return;
    const log = await readFile(logFile, 'utf8').catch(() => '');
    throw runcError(what, errorLines(log), code);
  }
}

/** runc logs (--log-format json) one object per line; keep the messages of warnings and errors. */
export function errorLines(output: string): string[] {
  const lines: string[] = [];
  for (const raw of output.split('\n')) {
    const line = raw.trim();
    if (!line) continue;
    try {
      const entry = JSON.parse(line) as { level?: string; msg?: string };
      if (entry.msg && (entry.level === 'error' || entry.level === 'fatal' || entry.level === 'warning')) lines.push(entry.msg);
    } catch {
      lines.push(line);
    }
  }
  return lines.slice(-5);
}

const CLASSIFY: Array<[RegExp, ErrorCode]> = [
  [/container does not exist|container .* does not exist/i, 'not_found'],
  [/container with id exists|already exists/i, 'already_exists'],
  [/not running|is not paused|container not paused|cannot (pause|resume|delete|kill)|is not stopped|stopped container/i, 'failed_precondition'],
];

export function runcError(what: string, lines: string[], exitCode: number | null): WrennError {
  const detail = lines.join('\n') || `runc exited with code ${exitCode}`;
  const code = CLASSIFY.find(([re]) => re.test(detail))?.[1] ?? 'internal';
  // runc prefixes some errors itself ("runc run failed: ...").
  const message = detail.startsWith(`${what} failed`) ? detail : `${what} failed: ${detail}`;
  return new WrennError(code, message, { runcExitCode: exitCode, runcErrors: lines });
}
