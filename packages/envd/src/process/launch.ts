/**
 * Turns a Start request into a LaunchSpec, refusing up front what would otherwise fail
 * obscurely inside the child: envd is root, so it checks, as the acting user, that the
 * working directory can be entered and the command found and executed. Errors name the
 * directory or command so the user knows what to fix.
 */
import type { Stats } from 'node:fs';
import { posix } from 'node:path';
import { WrennError, fromSystemError } from '@wrenn/shared';
import { ensureAccess } from '../core/permissions.js';
import { resolveUserPath } from '../core/paths.js';
import { processEnvironment } from '../core/environment.js';
import type { UserInfo } from '../core/users.js';
import type { LaunchSpec } from './child.js';

export interface LaunchRequest {
  readonly cmd: string;
  readonly args: readonly string[];
  readonly envs: Record<string, string>;
  readonly cwd?: string | undefined;
  readonly stdin?: boolean | undefined;
  readonly pty?: { readonly cols: number; readonly rows: number } | undefined;
}

export interface LaunchDefaults {
  readonly capsuleEnv: Record<string, string>;
  readonly defaultWorkdir: string | undefined;
}

export async function prepareLaunch(req: LaunchRequest, user: UserInfo, defaults: LaunchDefaults): Promise<LaunchSpec> {
  if (!req.cmd) throw new WrennError('invalid_argument', 'process.cmd must name the command to run');
  if (req.pty && (req.pty.cols < 1 || req.pty.rows < 1)) {
    throw new WrennError('invalid_argument', `pty size must be at least 1x1, got ${req.pty.cols}x${req.pty.rows}`);
  }
  const cwd = resolveUserPath(req.cwd || defaults.defaultWorkdir || user.home, user);
  await ensureWorkdir(cwd, user);
  const env = processEnvironment(user, defaults.capsuleEnv, req.envs);
  const file = await resolveCommand(req.cmd, env.PATH ?? '', cwd, user);
  return {
    file,
    cmd: req.cmd,
    args: req.args,
    cwd,
    env,
    uid: user.uid,
    gid: user.gid,
    groups: user.groups,
    // Unset means open: older clients never send the field and expect stdin to work.
    stdin: req.stdin ?? true,
    ...(req.pty ? { pty: req.pty } : {}),
  };
}

async function ensureWorkdir(cwd: string, user: UserInfo): Promise<void> {
  let st: Stats;
  try {
    st = await ensureAccess(cwd, user, 'x');
  } catch (err) {
    const e = fromSystemError(err, cwd);
    const why =
      e.code === 'file_not_found'
        ? 'does not exist'
        : e.code === 'permission_denied'
          ? `cannot be entered by user ${JSON.stringify(user.name)}`
          : e.code === 'not_a_directory'
            ? 'is not a directory'
            : `cannot be used (${e.message})`;
    throw new WrennError(e.code, `cannot start process: working directory ${JSON.stringify(cwd)} ${why}`, { cwd });
  }
  if (!st.isDirectory()) {
    throw new WrennError('not_a_directory', `cannot start process: working directory ${JSON.stringify(cwd)} is not a directory`, {
      cwd,
    });
  }
}

type Candidate = { file: string; verdict: 'ok' | 'denied' | 'missing' };

async function checkExecutable(file: string, user: UserInfo): Promise<Candidate> {
  try {
    // ensureAccess applies the execute rule for the user (root needs some x bit).
    const st = await ensureAccess(file, user, 'x');
    return { file, verdict: st.isDirectory() ? 'denied' : 'ok' };
  } catch (err) {
    return { file, verdict: err instanceof WrennError && err.code === 'permission_denied' ? 'denied' : 'missing' };
  }
}

/**
 * Finds the executable the way execvp would for `user`: a command with a slash is a path
 * (relative to cwd), otherwise the first executable match on PATH.
 */
export async function resolveCommand(cmd: string, path: string, cwd: string, user: UserInfo): Promise<string> {
  if (cmd.includes('\0')) throw new WrennError('invalid_argument', 'process.cmd must not contain NUL bytes');
  let denied: string | undefined;
  if (cmd.includes('/')) {
    const c = await checkExecutable(posix.resolve(cwd, cmd), user);
    if (c.verdict === 'ok') return c.file;
    if (c.verdict === 'denied') denied = c.file;
  } else {
    for (const dir of path.split(':')) {
      const c = await checkExecutable(posix.resolve(cwd, dir || '.', cmd), user);
      if (c.verdict === 'ok') return c.file;
      if (c.verdict === 'denied') denied ??= c.file;
    }
  }
  if (denied) {
    throw new WrennError('permission_denied', `cannot start ${JSON.stringify(cmd)}: user ${JSON.stringify(user.name)} may not execute ${JSON.stringify(denied)}`, {
      cmd,
      path: denied,
    });
  }
  const where = cmd.includes('/') ? '' : ` in PATH ${JSON.stringify(path)}`;
  throw new WrennError('not_found', `cannot start ${JSON.stringify(cmd)}: command not found${where}`, { cmd });
}

/** Maps a spawn failure (the exec itself failed) to an error naming the command. */
export function spawnError(err: unknown, cmd: string): WrennError {
  const code = (err as NodeJS.ErrnoException)?.code;
  if (code === 'ENOENT') return new WrennError('not_found', `cannot start ${JSON.stringify(cmd)}: command not found`, { cmd }, { cause: err });
  if (code === 'EACCES' || code === 'EPERM') {
    return new WrennError('permission_denied', `cannot start ${JSON.stringify(cmd)}: permission denied`, { cmd }, { cause: err });
  }
  const message = err instanceof Error ? err.message : String(err);
  return new WrennError('internal', `cannot start ${JSON.stringify(cmd)}: ${message}`, { cmd }, { cause: err });
}
