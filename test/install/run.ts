/** Runs a command to completion (argv, no shell), capturing its output, with a deadline. */
import { spawn } from 'node:child_process';
import { resolve } from 'node:path';

export const REPO = resolve(import.meta.dirname, '../..');

export interface Ran {
  code: number | null;
  output: string;
}

export function run(argv: string[], opts: { cwd: string; timeoutMs: number; env?: NodeJS.ProcessEnv }): Promise<Ran> {
  return new Promise((resolvePromise, reject) => {
    const [cmd, ...args] = argv;
    const child = spawn(cmd!, args, { cwd: opts.cwd, env: opts.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    const chunks: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => chunks.push(b));
    child.stderr.on('data', (b: Buffer) => chunks.push(b));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${argv.join(' ')} did not finish in ${opts.timeoutMs} ms:\n${Buffer.concat(chunks).toString()}`));
    }, opts.timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      // Colour escapes out, so assertions read plain lines.
      resolvePromise({ code, output: Buffer.concat(chunks).toString().replace(/\x1b\[[0-9;]*m/g, '') });
    });
  });
}
