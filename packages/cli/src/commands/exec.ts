/**
 * `wrenn exec ID -- CMD [ARGS...]`: runs a command in a capsule, prints its stdout and
 * stderr as they are, and exits with the command's exit code. One argument with spaces
 * (`wrenn exec ID -- 'ls | wc -l'`) runs through /bin/sh -c.
 */
import type { Command } from 'commander';
import { clientFor, run } from '../context.js';
import { keyValues } from '../output.js';

const collect = (v: string, prev: string[] = []) => [...prev, v];

/** The command as cmd + args; a lone string with shell syntax goes to sh -c. */
export function commandLine(words: string[]): { cmd: string; args: string[] } {
  const w = words[0] === '--' ? words.slice(1) : words;
  if (w.length === 0) throw new Error('no command given: wrenn exec ID -- CMD [ARGS...]');
  if (w.length === 1 && /[\s|&;<>()$`*?"'\\]/.test(w[0]!)) return { cmd: '/bin/sh', args: ['-c', w[0]!] };
  return { cmd: w[0]!, args: w.slice(1) };
}

function write(stream: NodeJS.WriteStream, data: Uint8Array): Promise<void> {
  return new Promise((resolve) => (stream.write(data) ? resolve() : stream.once('drain', resolve)));
}

export function execCommand(program: Command): void {
  program
    .command('exec <id> <command...>')
    .description('run a command in a capsule (exits with its exit code)')
    .option('--timeout <sec>', 'kill the command after this many seconds (default 30; with --stream: no limit unless given)')
    .option('--cwd <dir>', 'working directory')
    .option('-e, --env <key=value>', 'environment variable (repeatable)', collect)
    .option('-s, --stream', 'print output as it is produced (WebSocket)')
    .addHelpText('after', '\nExamples:\n  wrenn exec cl-abc -- python3 -c "print(1)"\n  wrenn exec cl-abc -- \'ls /tmp | wc -l\'     (one argument with shell syntax: run by /bin/sh -c)\n  wrenn exec --stream cl-abc -- make -j4')
    .action(
      run(async (id: string, words: string[], opts: { timeout?: string; cwd?: string; env?: string[]; stream?: boolean }, cmd: Command) => {
        const wrenn = clientFor(cmd);
        const { cmd: command, args } = commandLine(words);
        const envs = keyValues(opts.env, '--env');
        const timeoutSec = opts.timeout === undefined ? undefined : Number(opts.timeout);
        if (timeoutSec !== undefined && !(Number.isInteger(timeoutSec) && timeoutSec >= 0)) throw new Error(`--timeout must be whole seconds, got ${opts.timeout}`);
        if (timeoutSec === 0 && !opts.stream) throw new Error('--timeout 0 (no limit) needs --stream; without it a command runs at most the server limit (default 30 s)');
        if (opts.stream) {
          const pending: Promise<void>[] = [];
          const s = await wrenn.execStream(id, {
            cmd: command,
            args,
            ...(envs ? { envs } : {}),
            ...(opts.cwd ? { cwd: opts.cwd } : {}),
            onStdout: (d) => void pending.push(write(process.stdout, d)),
            onStderr: (d) => void pending.push(write(process.stderr, d)),
          });
          const stop = () => s.stop();
          process.once('SIGINT', stop);
          const timer = timeoutSec ? setTimeout(stop, timeoutSec * 1000) : undefined;
          const end = await s.wait().finally(() => {
            clearTimeout(timer);
            process.off('SIGINT', stop);
          });
          await Promise.all(pending);
          process.exitCode = end.exitCode ?? 1;
          return;
        }
        const r = await wrenn.capsules.exec(id, {
          cmd: command,
          args,
          ...(timeoutSec !== undefined ? { timeoutSec } : {}),
          ...(envs ? { envs } : {}),
          ...(opts.cwd ? { cwd: opts.cwd } : {}),
        });
        await write(process.stdout, r.stdoutBytes);
        await write(process.stderr, r.stderrBytes);
        if (r.timedOut) {
          // 124, as timeout(1) reports it.
          process.stderr.write(`wrenn: the command ran past its time limit (${timeoutSec ?? 30} s) and was killed; raise --timeout or use --stream\n`);
          process.exitCode = 124;
          return;
        }
        process.exitCode = r.exitCode;
      }),
    );
}
