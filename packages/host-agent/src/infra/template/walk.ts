/**
 * A parallel walk of a directory tree that never follows symlinks: every entry (the root
 * included) is lstat'ed and handed to `visit` exactly once, with at most `concurrency`
 * filesystem operations in flight (they run on libuv's thread pool, so a few dozen keep
 * it busy without flooding memory). The first error stops the walk; the walk returns
 * only after every started operation has settled, so a caller may delete the tree next.
 */
import { lstat, readdir } from 'node:fs/promises';
import type { Stats } from 'node:fs';
import { join } from 'node:path';
import { WrennError } from '@wrenn/shared';

export interface WalkOptions {
  signal?: AbortSignal;
  /** Entries processed at once (default 32). */
  concurrency?: number;
}

export type Visit = (path: string, stats: Stats) => Promise<void> | void;

export function walkTree(root: string, visit: Visit, opts: WalkOptions = {}): Promise<void> {
  const concurrency = Math.max(1, opts.concurrency ?? 32);
  return new Promise((resolve, reject) => {
    let firstError: unknown;
    let outstanding = 0; // tasks queued or running
    let running = 0;
    const queue: string[] = [];

    const fail = (err: unknown) => {
      firstError ??= err;
      outstanding -= queue.length; // dropped, never started
      queue.length = 0;
    };
    const finishOne = () => {
      outstanding -= 1;
      running -= 1;
      pump();
      if (outstanding === 0) {
        if (firstError !== undefined) reject(firstError);
        else resolve();
      }
    };
    const enqueue = (path: string) => {
      if (firstError !== undefined) return;
      outstanding += 1;
      queue.push(path);
    };
    const pump = () => {
      while (running < concurrency && queue.length > 0) {
        const path = queue.pop()!; // depth-first keeps the queue short
        running += 1;
        processEntry(path).catch(fail).finally(finishOne);
      }
    };
    const processEntry = async (path: string) => {
      if (opts.signal?.aborted) throw new WrennError('canceled', `walk of ${root} was cancelled`);
      if (firstError !== undefined) return;
      const stats = await lstat(path);
      await visit(path, stats);
      if (!stats.isDirectory()) return;
      for (const name of await readdir(path)) enqueue(join(path, name));
    };

    enqueue(root);
    pump();
  });
}
