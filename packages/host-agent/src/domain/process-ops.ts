/**
 * Process operations on a running capsule, on top of envd's process service: run to
 * completion with a timeout, stream, start in the background, PTY sessions.
 */
import { randomBytes } from 'node:crypto';
import { WrennError } from '@wrenn/shared';
import { EnvdClient, fromEnvdError } from '../infra/envd/envd-client.js';

export interface CommandSpec {
  cmd: string;
  args: string[];
  envs: Record<string, string>;
  cwd?: string;
  user?: string;
}

export interface ExecResult {
  stdout: Buffer;
  stderr: Buffer;
  exitCode: number;
  durationMs: number;
  timedOut: boolean;
}

export type StreamEvent =
  | { kind: 'started'; pid: number }
  | { kind: 'stdout'; data: Uint8Array }
  | { kind: 'stderr'; data: Uint8Array }
  | { kind: 'pty'; data: Uint8Array }
  | { kind: 'exit'; exitCode: number };

/** Output a unary exec returns at most (each stream); beyond it, use ExecStream. */
export const EXEC_OUTPUT_LIMIT_BYTES = 32 * 1024 * 1024;

export function newTag(prefix: string): string {
  return `${prefix}${randomBytes(4).toString('hex')}`;
}

function processConfig(spec: CommandSpec) {
  return { cmd: spec.cmd, args: spec.args, envs: spec.envs, ...(spec.cwd ? { cwd: spec.cwd } : {}) };
}

/** Maps envd's process event stream to ours; the stream's errors become WrennErrors. */
export async function* mapEvents(events: AsyncIterable<{ event?: { event: { case: string | undefined; value?: unknown } } }>): AsyncGenerator<StreamEvent> {
  try {
    for await (const res of events) {
      const e = res.event?.event;
      if (!e) continue;
      if (e.case === 'start') yield { kind: 'started', pid: (e.value as { pid: number }).pid };
      else if (e.case === 'data') {
        const out = (e.value as { output: { case: string | undefined; value?: Uint8Array } }).output;
        if (out.case === 'stdout' || out.case === 'stderr' || out.case === 'pty') yield { kind: out.case, data: out.value! };
      } else if (e.case === 'end') {
        yield { kind: 'exit', exitCode: (e.value as { exitCode: number }).exitCode };
        return;
      }
    }
  } catch (err) {
    throw fromEnvdError(err);
  }
}

export function streamCommand(envd: EnvdClient, spec: CommandSpec, signal?: AbortSignal, stdin = false): AsyncGenerator<StreamEvent> {
  return mapEvents(
    envd.process.start({ process: processConfig(spec), stdin }, { headers: EnvdClient.userHeaders(spec.user), signal }),
  );
}

/** Runs to completion; on timeout the process group is killed and `timedOut` is set. */
export async function execCommand(envd: EnvdClient, spec: CommandSpec, timeoutMs: number, stdinData?: Uint8Array): Promise<ExecResult> {
  const started = Date.now();
  const abort = new AbortController();
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  let outLen = 0;
  let errLen = 0;
  let pid = 0;
  let exitCode = -1;
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    if (pid) void envd.kill({ pid }, 'SIGKILL', spec.user).catch(() => {});
    // If the kill does not end the stream promptly, stop waiting for it.
    setTimeout(() => abort.abort(), 2000).unref();
  }, timeoutMs);
  try {
    for await (const ev of streamCommand(envd, spec, abort.signal, stdinData !== undefined)) {
      if (ev.kind === 'started') {
        pid = ev.pid;
        if (stdinData !== undefined) {
          const selector = envd.selector({ pid });
          const headers = EnvdClient.userHeaders(spec.user);
          await envd.process.sendInput({ process: selector, input: { input: { case: 'stdin', value: stdinData } } }, { headers });
          await envd.process.closeStdin({ process: selector }, { headers });
        }
      } else if (ev.kind === 'stdout' || ev.kind === 'pty') {
        if (outLen < EXEC_OUTPUT_LIMIT_BYTES) out.push(Buffer.from(ev.data));
        outLen += ev.data.length;
      } else if (ev.kind === 'stderr') {
        if (errLen < EXEC_OUTPUT_LIMIT_BYTES) err.push(Buffer.from(ev.data));
        errLen += ev.data.length;
      } else if (ev.kind === 'exit') exitCode = ev.exitCode;
    }
  } catch (e) {
    if (!timedOut) throw e;
  } finally {
    clearTimeout(timer);
  }
  return { stdout: Buffer.concat(out), stderr: Buffer.concat(err), exitCode, durationMs: Date.now() - started, timedOut };
}

/** Starts a process that outlives this call; resolves once envd reports its pid. */
export async function startBackground(envd: EnvdClient, spec: CommandSpec, tag?: string): Promise<{ pid: number; tag: string }> {
  const useTag = tag || newTag('proc-');
  const abort = new AbortController();
  const events = mapEvents(
    envd.process.start(
      { process: processConfig(spec), stdin: false, tag: useTag },
      { headers: EnvdClient.userHeaders(spec.user), signal: abort.signal },
    ),
  );
  try {
    for await (const ev of events) {
      if (ev.kind === 'started') return { pid: ev.pid, tag: useTag };
    }
    throw new WrennError('internal', 'envd ended the process stream before reporting a pid');
  } finally {
    // Leaving the stream does not stop the process: envd keeps it and buffers its output.
    abort.abort();
  }
}
