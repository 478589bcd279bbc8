/**
 * `wrenn pty ID`: an interactive terminal in a capsule. The local terminal goes raw,
 * window size changes follow (SIGWINCH), Ctrl-] detaches (the session keeps running for
 * a while and `wrenn pty ID --tag TAG` re-attaches), and the command's exit code becomes
 * ours.
 */
import type { Command } from 'commander';
import { clientFor, run } from '../context.js';

/** Ctrl-] as telnet and docker attach use it. */
const DETACH = 0x1d;

export function ptyCommand(program: Command): void {
  program
    .command('pty <id> [command...]')
    .alias('shell')
    .description('open an interactive terminal in a capsule (Ctrl-] detaches)')
    .option('--tag <tag>', 're-attach to a session that is still running')
    .option('--cwd <dir>', 'working directory')
    .action(
      run(async (id: string, words: string[], opts: { tag?: string; cwd?: string }, cmd: Command) => {
        const wrenn = clientFor(cmd);
        const stdin = process.stdin;
        const stdout = process.stdout;
        const size = () => ({ cols: stdout.columns || 80, rows: stdout.rows || 24 });
        const w = words[0] === '--' ? words.slice(1) : words;
        const session = await wrenn.pty(id, {
          ...size(),
          ...(opts.tag ? { tag: opts.tag } : {}),
          ...(w.length ? { cmd: w[0]!, args: w.slice(1) } : {}),
          ...(opts.cwd ? { cwd: opts.cwd } : {}),
          onOutput: (d) => stdout.write(d),
        });

        const raw = stdin.isTTY === true;
        if (raw) stdin.setRawMode(true);
        let detached = false;
        const onInput = (chunk: Buffer) => {
          const at = chunk.indexOf(DETACH);
          if (at >= 0) {
            if (at > 0) session.write(chunk.subarray(0, at));
            detached = true;
            void session.close();
            return;
          }
          if (session.connected) session.write(chunk);
        };
        const onResize = () => {
          const { cols, rows } = size();
          if (session.connected) session.resize(cols, rows);
        };
        stdin.on('data', onInput);
        stdin.resume();
        process.on('SIGWINCH', onResize);
        const end = await session.wait();
        stdin.off('data', onInput);
        process.off('SIGWINCH', onResize);
        if (raw) stdin.setRawMode(false);
        stdin.pause();

        if (end.reason === 'exit') {
          process.exitCode = end.exitCode;
        } else if (end.reason === 'error') {
          throw end.error;
        } else {
          const how = detached ? 'detached' : 'connection lost';
          process.stderr.write(`\r\nwrenn: ${how}; the session keeps running for a while: wrenn pty ${id} --tag ${session.tag}\n`);
          process.exitCode = detached ? 0 : 1;
        }
      }),
    );
}
