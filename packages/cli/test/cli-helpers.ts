/**
 * Runs the `wrenn` command as a child process, as a user would: the compiled CLI (what the
 * global `wrenn` links to), with plain node, from a directory outside the repository.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { tmpdir } from 'node:os';
import { resolve } from 'node:path';

export const REPO = resolve(import.meta.dirname, '../../..');
export const WRENN_BIN = resolve(REPO, 'packages/cli/bin/wrenn.mjs');

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
  stdoutBytes: Buffer;
}

/** The environment without anything that would point the CLI at a real install or a sudo user's home. */
export function cleanEnv(extra: Record<string, string | undefined>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const k of Object.keys(env)) if (k.startsWith('WRENN_') || k.startsWith('SUDO_')) delete env[k];
  for (const [k, v] of Object.entries(extra)) if (v === undefined) delete env[k];
  else env[k] = v;
  return env;
}

export function spawnWrenn(args: string[], env: NodeJS.ProcessEnv, stdin?: Buffer | string): ChildProcess {
  const child = spawn(process.execPath, [WRENN_BIN, ...args], { cwd: tmpdir(), env, stdio: ['pipe', 'pipe', 'pipe'] });
  if (stdin !== undefined) child.stdin!.end(stdin);
  else child.stdin!.end();
  return child;
}

export function wrenn(args: string[], env: NodeJS.ProcessEnv, opts: { stdin?: Buffer | string; timeoutMs?: number } = {}): Promise<RunResult> {
  return new Promise((resolvePromise, reject) => {
    const child = spawnWrenn(args, env, opts.stdin);
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout!.on('data', (b: Buffer) => out.push(b));
    child.stderr!.on('data', (b: Buffer) => err.push(b));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`wrenn ${args.join(' ')} did not finish in time; stderr: ${Buffer.concat(err).toString()}`));
    }, opts.timeoutMs ?? 60_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      const stdoutBytes = Buffer.concat(out);
      resolvePromise({ code, stdout: stdoutBytes.toString(), stderr: Buffer.concat(err).toString(), stdoutBytes });
    });
  });
}
