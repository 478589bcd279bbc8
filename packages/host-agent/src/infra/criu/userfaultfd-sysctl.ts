/**
 * Lazy restore needs the restored processes to open a userfaultfd. CRIU opens it from
 * inside the capsule, in its user namespace, where the kernel allows a userfaultfd that
 * also handles kernel-mode faults only with CAP_SYS_PTRACE in the host's namespace (which
 * capsules never have) or with the sysctl `vm.unprivileged_userfaultfd` = 1. CRIU 4.2 has
 * no other way (no /dev/userfaultfd support), so an agent in `WRENN_LAZY_RESTORE=auto`
 * turns the sysctl on at start, as root.
 *
 * What that opens: any unprivileged process on the host may create userfaultfds, which
 * exploits use to widen kernel race windows. Capsule code cannot: the capsule seccomp
 * profile refuses userfaultfd(2) (isolation.test.ts checks it) and /dev/userfaultfd is not
 * in a capsule's /dev. Hosts that must keep the sysctl at 0 set WRENN_LAZY_RESTORE=off
 * (restores are then eager: slower for large memories, same result).
 *
 * The agent owns the change: it puts the old value back when the last agent in this
 * process closes (several agents share a process in tests). An agent that was killed leaves
 * the sysctl on; the next one finds it on and leaves it so.
 */
import { readFile, writeFile } from 'node:fs/promises';

export const UNPRIVILEGED_USERFAULTFD = '/proc/sys/vm/unprivileged_userfaultfd';

let holders = 0;
/** The value to put back when the last holder releases (set when this process changed it). */
let previous: string | undefined;

export async function readUnprivilegedUserfaultfd(): Promise<boolean> {
  return (await readFile(UNPRIVILEGED_USERFAULTFD, 'utf8').catch(() => '0')).trim() === '1';
}

export interface UserfaultfdGrant {
  /** This call changed the sysctl (it was 0). */
  changed: boolean;
  /** Puts the old value back once no agent in this process needs it. Idempotent. */
  release(): Promise<void>;
}

/** Makes sure the sysctl is 1; throws if it cannot be set (not root, read-only /proc/sys). */
export async function enableUnprivilegedUserfaultfd(): Promise<UserfaultfdGrant> {
  let changed = false;
  if (!(await readUnprivilegedUserfaultfd())) {
    await writeFile(UNPRIVILEGED_USERFAULTFD, '1');
    if (holders === 0) previous = '0';
    changed = true;
  }
  holders += 1;
  let released = false;
  return {
    changed,
    release: async () => {
      if (released) return;
      released = true;
      holders -= 1;
      if (holders > 0 || previous === undefined) return;
      const restore = previous;
      previous = undefined;
      await writeFile(UNPRIVILEGED_USERFAULTFD, restore).catch(() => {});
    },
  };
}
