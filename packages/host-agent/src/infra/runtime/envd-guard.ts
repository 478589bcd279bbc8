/**
 * envd's protection, from outside the capsule: its init (tini, the capsule's PID 1) and envd
 * (tini's first child) get oom_score_adj -1000, so the OOM killer of the capsule's memory
 * cgroup picks the processes the capsule's user started, never the capsule's only way in.
 * Written by the agent (root with CAP_SYS_RESOURCE on the host), which also sets envd's
 * floor to -1000: nothing inside the capsule can lower it, and envd starts its own children
 * at the capsule default again (packages/envd/src/process/oom-score.ts).
 *
 * An agent without CAP_SYS_RESOURCE (some container hosts drop it) cannot lower a score:
 * envd then keeps the capsule default (500) and is protected only relatively, by the
 * processes it starts getting 1000 (the OOM killer's first choice inside the capsule's
 * memory cgroup as long as envd uses less than half of it); `protectedScore` says which.
 *
 * `alive` then tells whether that envd still runs: the same pid with the same start time
 * (a pid reused by another process is not envd).
 */
import { promises as fsp } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { WrennError } from '@wrenn/shared';

export const PROTECTED_OOM_SCORE_ADJ = -1000;

/** A protected envd: its host pid and start time (clock ticks since boot, /proc/<pid>/stat). */
export interface GuardedEnvd {
  initPid: number;
  envdPid: number;
  envdStart: string;
  /** -1000, or undefined when this agent may not lower scores (no CAP_SYS_RESOURCE). */
  protectedScore: number | undefined;
}

/** Fields of /proc/<pid>/stat after the command name (which may hold spaces and parentheses). */
async function statFields(pid: number): Promise<string[] | undefined> {
  const text = await fsp.readFile(`/proc/${pid}/stat`, 'utf8').catch(() => undefined);
  if (!text) return undefined;
  return text.slice(text.lastIndexOf(')') + 2).split(' ');
}

/** Start time (field 22 of stat; index 19 after the name) of `pid`, or undefined when it is gone. */
export async function startTime(pid: number): Promise<string | undefined> {
  return (await statFields(pid))?.[19];
}

/** Direct children of `pid` (the kernel's list when it has one, else a scan of /proc). */
async function childrenOf(pid: number): Promise<number[]> {
  const listed = await fsp.readFile(`/proc/${pid}/task/${pid}/children`, 'utf8').catch(() => undefined);
  if (listed !== undefined) return listed.split(/\s+/).filter(Boolean).map(Number);
  const out: number[] = [];
  for (const entry of await fsp.readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const fields = await statFields(Number(entry));
    if (fields?.[1] === String(pid)) out.push(Number(entry));
  }
  return out;
}

/**
 * envd: the oldest child of the capsule's init. Processes orphaned inside the capsule are
 * re-parented to init too, but they always start after envd (which starts them).
 */
async function findEnvd(initPid: number): Promise<{ pid: number; start: string } | undefined> {
  let best: { pid: number; start: string } | undefined;
  for (const pid of await childrenOf(initPid)) {
    const start = await startTime(pid);
    if (start !== undefined && (!best || BigInt(start) < BigInt(best.start))) best = { pid, start };
  }
  return best;
}

async function writeScore(pid: number, value: number): Promise<void> {
  await fsp.writeFile(`/proc/${pid}/oom_score_adj`, String(value));
}

/**
 * Protects the init `initPid` and its envd; waits up to `waitMs` for init to have started
 * envd. failed_precondition when there is no envd to protect (the capsule's init is gone).
 */
export async function protectEnvd(initPid: number, waitMs = 2_000): Promise<GuardedEnvd> {
  const deadline = Date.now() + waitMs;
  for (;;) {
    const envd = await findEnvd(initPid);
    if (envd) {
      try {
        // Init first: envd must never be left protected under an init that is not.
        await writeScore(initPid, PROTECTED_OOM_SCORE_ADJ);
        await writeScore(envd.pid, PROTECTED_OOM_SCORE_ADJ);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code !== 'EACCES' && code !== 'EPERM') throw err;
        return { initPid, envdPid: envd.pid, envdStart: envd.start, protectedScore: undefined };
      }
      return { initPid, envdPid: envd.pid, envdStart: envd.start, protectedScore: PROTECTED_OOM_SCORE_ADJ };
    }
    if (Date.now() >= deadline) {
      throw new WrennError('failed_precondition', `the capsule's init (pid ${initPid}) has no envd child to protect`, { initPid });
    }
    await sleep(50);
  }
}

/** True while the protected envd still runs. */
export async function envdAlive(guarded: GuardedEnvd): Promise<boolean> {
  return (await startTime(guarded.envdPid)) === guarded.envdStart;
}

/** The OOM score of `pid` as the kernel has it (tests, diagnostics). */
export async function oomScoreAdj(pid: number): Promise<number> {
  return Number((await fsp.readFile(`/proc/${pid}/oom_score_adj`, 'utf8')).trim());
}
