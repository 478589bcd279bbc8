/**
 * Lazy restore needs the restored processes to open a userfaultfd. CRIU opens it from
 * inside the capsule, in its user namespace, where the kernel allows a userfaultfd that
 * also handles kernel-mode faults only with CAP_SYS_PTRACE in the host's namespace (which
 * capsules never have) or with the sysctl `vm.unprivileged_userfaultfd` = 1. CRIU 4.2 has
 * no other way (no /dev/userfaultfd support), so an agent in `WRENN_LAZY_RESTORE=auto`
 * turns the sysctl on at start, as root.
 *
 * What that opens: any unprivileged process on the host may create userfaultfds, which
 * exploits use to widen kernel race windows. Capsules cannot: the capsule seccomp profile
 * refuses userfaultfd(2) (isolation.test.ts checks it) and /dev/userfaultfd is not in a
 * capsule's /dev. Hosts that must keep the sysctl at 0 set WRENN_LAZY_RESTORE=off
 * (restores are then eager: slower for large memories, same result).
 *
 * The agents own the change, across processes and across a kill: the agent that turns the
 * sysctl on records the old value in a state dir (`previous`, with the boot it belongs to:
 * the sysctl resets at boot, a state dir on disk does not), and every agent process that
 * relies on it registers itself there (`holders/<pid>`, with its start time, so a reused
 * pid is not mistaken for it). The last holder to leave (several agents share a process in
 * tests; several processes share a host) puts the old value back; a holder that was
 * killed is found dead by the next one to leave, so a killed agent no longer leaves the
 * sysctl on for good. A race with an agent starting at that moment can turn the sysctl off
 * under it: its restores then fall back to eager ones (criu-ops.ts), nothing fails.
 */
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export const UNPRIVILEGED_USERFAULTFD = '/proc/sys/vm/unprivileged_userfaultfd';
/** Where agents record who relies on the sysctl and what it was before them. */
export const USERFAULTFD_STATE_DIR = '/run/wrenn/userfaultfd';

export interface UserfaultfdOptions {
  /** The sysctl's file (tests: a file standing in for it). */
  sysctlPath?: string;
  stateDir?: string;
}

export interface UserfaultfdGrant {
  /** This call changed the sysctl (it was 0). */
  changed: boolean;
  /** Puts the old value back once no agent on the host needs it. Idempotent. */
  release(): Promise<void>;
}

/** In-process holders, per state dir: one holder file per process. */
const inProcess = new Map<string, number>();

export async function readUnprivilegedUserfaultfd(sysctlPath = UNPRIVILEGED_USERFAULTFD): Promise<boolean> {
  return (await readFile(sysctlPath, 'utf8').catch(() => '0')).trim() === '1';
}

/** Makes sure the sysctl is 1; throws if it cannot be set (not root, read-only /proc/sys). */
export async function enableUnprivilegedUserfaultfd(opts: UserfaultfdOptions = {}): Promise<UserfaultfdGrant> {
  const sysctl = opts.sysctlPath ?? UNPRIVILEGED_USERFAULTFD;
  const dir = opts.stateDir ?? USERFAULTFD_STATE_DIR;
  const boot = await bootId();
  await mkdir(join(dir, 'holders'), { recursive: true, mode: 0o700 });
  const previousFile = join(dir, 'previous');
  const recorded = await readPrevious(previousFile);
  // Recorded in an earlier boot: the sysctl has been reset since, the record means nothing.
  if (recorded && recorded.boot !== boot) await rm(previousFile, { force: true });
  await writeFile(join(dir, 'holders', String(process.pid)), `${boot} ${await startTime(process.pid)}\n`);
  inProcess.set(dir, (inProcess.get(dir) ?? 0) + 1);
  let changed = false;
  if (!(await readUnprivilegedUserfaultfd(sysctl))) {
    // Recorded before the change: an agent killed right after it still leaves the record.
    if (!recorded || recorded.boot !== boot) await writeFile(previousFile, `0 ${boot}\n`);
    await writeFile(sysctl, '1');
    changed = true;
  }
  let released = false;
  return {
    changed,
    release: async () => {
      if (released) return;
      released = true;
      const left = (inProcess.get(dir) ?? 1) - 1;
      if (left > 0) return void inProcess.set(dir, left);
      inProcess.delete(dir);
      await rm(join(dir, 'holders', String(process.pid)), { force: true });
      if ((await liveHolders(dir, boot)).length > 0) return;
      const previous = await readPrevious(previousFile);
      if (!previous || previous.boot !== boot) return; // not ours to change: it was on before any agent
      await writeFile(sysctl, previous.value).catch(() => {});
      await rm(previousFile, { force: true });
    },
  };
}

/** Holder pids still running (same boot, same start time); dead ones' files are removed. */
async function liveHolders(dir: string, boot: string): Promise<number[]> {
  const live: number[] = [];
  for (const name of await readdir(join(dir, 'holders')).catch(() => [] as string[])) {
    const pid = Number(name);
    const [holderBoot, started] = (await readFile(join(dir, 'holders', name), 'utf8').catch(() => '')).trim().split(' ');
    if (Number.isInteger(pid) && holderBoot === boot && started !== undefined && (await startTime(pid)) === started) live.push(pid);
    else await rm(join(dir, 'holders', name), { force: true });
  }
  return live;
}

async function readPrevious(path: string): Promise<{ value: string; boot: string } | undefined> {
  const [value, boot] = (await readFile(path, 'utf8').catch(() => '')).trim().split(' ');
  return value && boot ? { value, boot } : undefined;
}

async function bootId(): Promise<string> {
  return (await readFile('/proc/sys/kernel/random/boot_id', 'utf8')).trim();
}

/** Field 22 of /proc/<pid>/stat (after the parenthesised command name); '' if gone. */
async function startTime(pid: number): Promise<string> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? '';
}
