/**
 * Runs a standard Linux tool (runc, ip, nft, mount, mkfs, ...) with an argv array — never
 * through a shell — and kills and reaps it when the signal aborts or the timeout passes.
 * Tools that start helpers of their own (runc starts CRIU, CRIU starts more) run with
 * `processGroup`: the kill then reaches the whole group, so no orphaned helper lives on.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { WrennError } from '@wrenn/shared';
import { Spawner, type StartedTool, type ToolExit, type ToolRequest } from './spawn/spawner.js';

export interface RunOptions {
  signal?: AbortSignal;
  /** Kill the tool after this long (default: no limit; callers pass deadlines, docs/decisions.md#h4). */
  timeoutMs?: number;
  /** Written to the tool's stdin, then stdin is closed. */
  input?: string | Buffer;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Return a non-zero exit instead of throwing. */
  allowFailure?: boolean;
  /** Cap on captured stdout/stderr bytes each (default 16 MiB). */
  maxOutputBytes?: number;
  /** Sees output as it arrives (progress of long tools such as mmdebstrap); still captured. */
  onStdout?: (chunk: Buffer) => void;
  onStderr?: (chunk: Buffer) => void;
  /** stdio on /dev/null: nothing captured, no input (tools whose output a child inherits, e.g. `runc run -d`). */
  quiet?: boolean;
  /**
   * Start the tool as the leader of a process group of its own and, on abort or timeout,
   * SIGKILL the whole group (by its id, the tool's pid): helpers it started die with it.
   */
  processGroup?: boolean;
}

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export class ToolError extends WrennError {
  constructor(
    readonly tool: string,
    readonly args: readonly string[],
    readonly result: RunResult,
  ) {
    const why = result.signal ? `killed by ${result.signal}` : `exit code ${result.code}`;
    const detail = (result.stderr || result.stdout).trim().split('\n').slice(-5).join('\n');
    super('internal', `${tool} ${args.slice(0, 3).join(' ')} failed (${why})${detail ? `: ${detail}` : ''}`, {
      tool,
      code: result.code,
    });
  }
}

export function run(cmd: string, args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    if (opts.signal?.aborted) {
      reject(new WrennError('canceled', `${cmd} not started: operation was cancelled`));
      return;
    }
    const onOutput = opts.onStdout || opts.onStderr ? (fd: 1 | 2, b: Buffer) => (fd === 1 ? opts.onStdout : opts.onStderr)?.(b) : undefined;
    const tool = startTool({
      cmd,
      args,
      env: opts.env ?? process.env,
      ...(opts.cwd !== undefined ? { cwd: opts.cwd } : {}),
      ...(opts.input !== undefined ? { input: opts.input } : {}),
      group: opts.processGroup ?? false,
      quiet: opts.quiet ?? false,
      ...(onOutput ? { onOutput } : {}),
      maxOutputBytes: opts.maxOutputBytes ?? 16 * 1024 * 1024,
    });
    let timedOut = false;
    const timer = opts.timeoutMs ? setTimeout(() => ((timedOut = true), tool.kill()), opts.timeoutMs) : undefined;
    const onAbort = () => tool.kill();
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    const done = () => {
      if (timer) clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
    };
    tool.exited.then(
      (exit) => {
        done();
        const result: RunResult = { code: exit.code, signal: exit.signal, stdout: exit.stdout.toString('utf8'), stderr: exit.stderr.toString('utf8') };
        if (opts.signal?.aborted) return reject(new WrennError('canceled', `${cmd} was cancelled`, { tool: cmd }));
        if (timedOut) return reject(new WrennError('deadline_exceeded', `${cmd} did not finish within ${opts.timeoutMs} ms`, { tool: cmd }));
        if (exit.code !== 0 && !opts.allowFailure) return reject(new ToolError(cmd, args, result));
        resolve(result);
      },
      (err: unknown) => {
        done();
        reject(notStarted(cmd, err));
      },
    );
  });
}

/** The error of a tool that could not be started: a missing tool says so. */
function notStarted(cmd: string, err: unknown): unknown {
  return (err as NodeJS.ErrnoException).code === 'ENOENT' ? new WrennError('failed_precondition', `${cmd} is not installed (not found in PATH)`, { tool: cmd }) : err;
}

/**
 * Starts a tool through the spawn helper (spawn/spawner.ts: a fork from the agent blocks
 * its event loop), or directly where the helper is off.
 */
export function startTool(req: ToolRequest): StartedTool {
  return Spawner.shared()?.start(req) ?? startDirect(req);
}

function startDirect(req: ToolRequest): StartedTool {
  let child: ChildProcess;
  try {
    child = spawn(req.cmd, req.args, {
      stdio: req.quiet ? 'ignore' : ['pipe', 'pipe', 'pipe'],
      env: req.env,
      cwd: req.cwd,
      detached: req.group,
    });
  } catch (err) {
    return { exited: Promise.reject(err), kill: () => {} };
  }
  const exited = new Promise<ToolExit>((resolve, reject) => {
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let outLen = 0;
    let errLen = 0;
    if (!req.quiet) {
      child.stdout!.on('data', (b: Buffer) => {
        req.onOutput?.(1, b);
        if (outLen < req.maxOutputBytes) out.push(b);
        outLen += b.length;
      });
      child.stderr!.on('data', (b: Buffer) => {
        req.onOutput?.(2, b);
        if (errLen < req.maxOutputBytes) err.push(b);
        errLen += b.length;
      });
      child.stdin!.on('error', () => {}); // tool exited before reading its input
      child.stdin!.end(req.input);
    }
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout: Buffer.concat(out), stderr: Buffer.concat(err) }));
  });
  return { exited, kill: () => killTool(child, req.group) };
}

/**
 * SIGKILLs a spawned tool; with `group`, its whole process group (the group's id is the
 * tool's pid, see `processGroup`). A group already gone is not an error.
 */
export function killTool(child: ChildProcess, group: boolean): void {
  if (group && child.pid !== undefined) {
    try {
      process.kill(-child.pid, 'SIGKILL');
      return;
    } catch {
      // ESRCH: the group is empty; fall through for the (already reaped) leader.
    }
  }
  child.kill('SIGKILL');
}
