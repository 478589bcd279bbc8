/**
 * Reads how a `criu dump` went from its log in the image dir (runc names it dump.log). An
 * agent killed in the middle of a pause uses it after its restart: runc and CRIU outlive
 * the agent, so the dump may have finished, failed, or still be running.
 */
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';

export type DumpOutcome = 'none' | 'succeeded' | 'failed' | 'in-progress' | 'abandoned';

/** A log untouched this long without a final line belongs to a CRIU that died. */
const STALE_MS = 3000;

export async function dumpOutcome(imageDir: string): Promise<DumpOutcome> {
  const path = join(imageDir, 'dump.log');
  const [text, info] = await Promise.all([readFile(path, 'utf8').catch(() => undefined), stat(path).catch(() => undefined)]);
  if (text === undefined || !info) return 'none';
  if (/Dumping finished successfully/.test(text)) return 'succeeded';
  if (/Dumping FAILED/.test(text)) return 'failed';
  return Date.now() - info.mtimeMs > STALE_MS ? 'abandoned' : 'in-progress';
}

/** CRIU's own error lines from a dump/restore log (the reason runc only calls "criu failed"). */
export async function criuLogErrors(imageDir: string, log: 'dump.log' | 'restore.log', max = 4): Promise<string[]> {
  const text = await readFile(join(imageDir, log), 'utf8').catch(() => '');
  return text
    .split('\n')
    .filter((l) => /Error \(/.test(l) && !/RLIMIT_NOFILE|cgroupd: recv req error/.test(l))
    .map((l) => l.replace(/^\(\d+\.\d+\)\s*/, '').trim())
    .slice(-max);
}
