/** What a failed or overrunning checkpoint/restore tells its caller: CRIU's own reasons, a full disk, the deadline. */
import { statfs } from 'node:fs/promises';
import { WrennError } from '@wrenn/shared';
import { criuLogErrors } from '../../criu/dump-log.js';

/** runc reports only "criu failed"; CRIU's log in the image dir says why. */
export async function withCriuErrors(err: unknown, logDir: string, log: 'dump.log' | 'restore.log'): Promise<unknown> {
  if (!(err instanceof WrennError) || err.code === 'canceled' || err.code === 'deadline_exceeded') return err;
  const lines = await criuLogErrors(logDir, log);
  const noSpace = [err.message, ...lines].some((l) => /No space left on device/.test(l)) || (await nearlyFull(logDir));
  if (lines.length === 0 && !noSpace) return err;
  return new WrennError(
    noSpace ? 'not_enough_disk_space' : err.code,
    `${err.message.split('\n')[0]}: ${lines.join('; ')}`,
    { ...err.details, criuErrors: lines },
    { cause: err },
  );
}

/** Free space below which a failed dump is put down to a full disk. */
const FULL_DISK_BYTES = 1024 * 1024;

/**
 * Whether the image directory's filesystem is (nearly) full. When it fills up, CRIU's own
 * log, written there too, may be what could not be written, and then no log line says
 * "No space left on device": the free space is the evidence left.
 */
async function nearlyFull(dir: string): Promise<boolean> {
  try {
    const fs = await statfs(dir);
    return fs.bavail * fs.bsize < FULL_DISK_BYTES;
  } catch {
    return false;
  }
}

/** A runtime deadline says what was given up on, and that runc and CRIU went with it. */
export function describeDeadline(err: unknown, what: string, timeoutMs: number | undefined): unknown {
  if (!(err instanceof WrennError) || err.code !== 'deadline_exceeded' || timeoutMs === undefined) return err;
  return new WrennError('deadline_exceeded', `${what} did not finish within ${timeoutMs} ms; runc and the CRIU it started were killed`, { ...err.details, timeoutMs }, { cause: err });
}
