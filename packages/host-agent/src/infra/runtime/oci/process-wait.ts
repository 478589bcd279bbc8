/** Waiting on the processes runc starts: their pid file, their exit, a bounded wait. */
import { readFile } from 'node:fs/promises';
import { sleep, WrennError } from '@wrenn/shared';

/** Undefined once `p` resolves; its error if it rejects; an internal error (`late`) if it takes longer than `ms`. */
export async function withinMs(p: Promise<unknown>, ms: number, late: string): Promise<unknown> {
  let timer: NodeJS.Timeout | undefined;
  const outcome = await Promise.race([
    p.then(() => undefined, (err: unknown) => err ?? new WrennError('internal', late)),
    new Promise<unknown>((resolve) => (timer = setTimeout(() => resolve(new WrennError('internal', late)), ms))),
  ]);
  clearTimeout(timer);
  return outcome;
}

/** Resolves once `pid` is a zombie or gone (its pid namespace is then empty), or after timeoutMs. */
export async function waitForExit(pid: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    let stat: string;
    try {
      stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    } catch {
      return;
    }
    if (stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) === 'Z') return;
    await sleep(2);
  }
}

export async function readPid(pidFile: string): Promise<number> {
  const pid = Number((await readFile(pidFile, 'utf8')).trim());
  if (!Number.isInteger(pid) || pid <= 0) throw new WrennError('internal', `runc wrote no valid init pid to ${pidFile}`);
  return pid;
}
