/** `wrenn files put|get|ls`: copy files in and out of a capsule (progress bar on a terminal). */
import { createReadStream, createWriteStream, statSync } from 'node:fs';
import { basename } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Command } from 'commander';
import { clientFor, globalFlags, run } from '../context.js';
import { humanBytes, printJson, table } from '../output.js';
import { byteProgress } from '../progress.js';

export function filesCommand(program: Command): void {
  const files = program.command('files').alias('file').description('copy files in and out of capsules');

  files
    .command('put <id> <local> <remote>')
    .description('upload a local file (- for stdin) to a path in the capsule')
    .action(
      run(async (id: string, local: string, remote: string, _opts: unknown, cmd: Command) => {
        const wrenn = clientFor(cmd);
        const fromStdin = local === '-';
        const size = fromStdin ? undefined : statSync(local).size;
        const source = fromStdin ? process.stdin : createReadStream(local, { highWaterMark: 1 << 20 });
        const bar = byteProgress(`${fromStdin ? 'stdin' : basename(local)} →`, size);
        const startedAt = Date.now();
        let sent = 0;
        try {
          await wrenn.files.write(id, remote, source, {
            onProgress: (n) => {
              sent = n;
              bar.update(n);
            },
          });
        } finally {
          bar.stop();
        }
        const secs = Math.max(0.001, (Date.now() - startedAt) / 1000);
        process.stderr.write(`${remote}: ${humanBytes(sent)} in ${secs.toFixed(1)} s\n`);
      }),
    );

  files
    .command('get <id> <remote> [local]')
    .description('download a file from the capsule (to stdout when local is - or omitted on a pipe)')
    .action(
      run(async (id: string, remote: string, local: string | undefined, _opts: unknown, cmd: Command) => {
        const wrenn = clientFor(cmd);
        const target = local ?? (process.stdout.isTTY ? basename(remote) : '-');
        const toStdout = target === '-';
        let bar: ReturnType<typeof byteProgress> | undefined;
        let got = 0;
        const startedAt = Date.now();
        const { stream, size } = await wrenn.files.readStream(id, remote, {
          onProgress: (n) => {
            got = n;
            bar?.update(n);
          },
        });
        if (!toStdout) bar = byteProgress(`${basename(remote)} ←`, size);
        try {
          await pipeline(Readable.fromWeb(stream as import('node:stream/web').ReadableStream<Uint8Array>), toStdout ? (process.stdout as Writable) : createWriteStream(target));
        } finally {
          bar?.stop();
        }
        if (!toStdout) {
          const secs = Math.max(0.001, (Date.now() - startedAt) / 1000);
          process.stderr.write(`${target}: ${humanBytes(got)} in ${secs.toFixed(1)} s\n`);
        }
      }),
    );

  files
    .command('ls <id> [path]')
    .description('list a directory in the capsule')
    .option('-d, --depth <n>', 'levels to descend', '1')
    .action(
      run(async (id: string, path: string | undefined, opts: { depth: string }, cmd: Command) => {
        const entries = await clientFor(cmd).files.list(id, path ?? '/', { depth: Number(opts.depth) });
        if (globalFlags(cmd).json) return printJson(entries);
        const rows = entries.map((e) => ({ type: e.type === 'dir' || e.type === 'directory' ? 'dir' : e.type, size: e.size, path: e.path }));
        process.stdout.write(`${table(rows, ['type', 'size', 'path'])}\n`);
      }),
    );
}
