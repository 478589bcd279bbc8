/**
 * Commands in a capsule: run to completion (output returned as UTF-8 text, or base64 when
 * it is not valid UTF-8), or start in the background (docs/decisions.md#c5: pid + tag; list, kill and
 * reconnect later). `cmd` is run with `args` as given, without a shell: pass
 * `cmd: "/bin/sh", args: ["-c", "..."]` for shell syntax.
 */
import type { ControlPlaneContext } from '../../context.js';
import { usableCapsule } from './pause.js';

export interface CommandInput {
  cmd: string;
  args: string[];
  envs: Record<string, string>;
  cwd?: string;
}

export interface ExecInput extends CommandInput {
  timeoutSec: number;
}

export interface ExecOutcome {
  stdout: string;
  stderr: string;
  exit_code: number;
  duration_ms: number;
  encoding: 'utf-8' | 'base64';
  /** Present (true) when the command ran past its timeout and was killed. */
  timed_out?: true;
}

/** Extra time the RPC gets beyond the command's own timeout (the agent kills it, then answers). */
const RPC_MARGIN_MS = 30_000;

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

function isUtf8(bytes: Uint8Array): boolean {
  try {
    strictUtf8.decode(bytes);
    return true;
  } catch {
    return false;
  }
}

/** Both outputs share one encoding, so a client decodes them the same way. */
export function encodeOutput(stdout: Uint8Array, stderr: Uint8Array): Pick<ExecOutcome, 'stdout' | 'stderr' | 'encoding'> {
  if (isUtf8(stdout) && isUtf8(stderr)) {
    return { stdout: Buffer.from(stdout).toString('utf8'), stderr: Buffer.from(stderr).toString('utf8'), encoding: 'utf-8' };
  }
  return { stdout: Buffer.from(stdout).toString('base64'), stderr: Buffer.from(stderr).toString('base64'), encoding: 'base64' };
}

export async function execCommand(ctx: ControlPlaneContext, teamId: string, capsuleId: string, input: ExecInput, signal?: AbortSignal): Promise<ExecOutcome> {
  const { agent } = await usableCapsule(ctx, teamId, capsuleId, 'exec');
  // A long command keeps its capsule from being auto-paused under it.
  const release = ctx.activity.hold(capsuleId);
  const res = await agent
    .exec(
      {
        capsuleId,
        cmd: input.cmd,
        args: input.args,
        envs: input.envs,
        ...(input.cwd ? { cwd: input.cwd } : {}),
        timeoutSec: input.timeoutSec,
      },
      { timeoutMs: input.timeoutSec * 1000 + RPC_MARGIN_MS, ...(signal ? { signal } : {}) },
    )
    .finally(release);
  return {
    ...encodeOutput(res.stdout, res.stderr),
    exit_code: res.timedOut ? -1 : res.exitCode,
    duration_ms: res.durationMs,
    ...(res.timedOut ? { timed_out: true as const } : {}),
  };
}

export async function startBackground(ctx: ControlPlaneContext, teamId: string, capsuleId: string, input: CommandInput & { tag?: string }): Promise<{ pid: number; tag: string }> {
  const { agent } = await usableCapsule(ctx, teamId, capsuleId, 'start a process');
  const res = await agent.startBackground(
    {
      capsuleId,
      cmd: input.cmd,
      args: input.args,
      envs: input.envs,
      ...(input.cwd ? { cwd: input.cwd } : {}),
      // Unset: the agent names it `proc-` + 8 hex digits.
      ...(input.tag ? { tag: input.tag } : {}),
    },
    { timeoutMs: 60_000 },
  );
  return { pid: res.pid, tag: res.tag };
}
