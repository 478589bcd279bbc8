/**
 * What the agent itself may hand to a capsule. Raising a hard rlimit above the caller's own
 * needs CAP_SYS_RESOURCE, which some hosts (containers, this development VM) do not grant
 * even to root; runc then fails with "error setting rlimit type 7".
 */
import { readFile } from 'node:fs/promises';
import { release } from 'node:os';

const CAP_SYS_RESOURCE_BIT = 24n;

/** The largest RLIMIT_NOFILE hard limit a capsule can be given, capped at `wanted`. */
export async function maxNofileHard(wanted: number): Promise<number> {
  const [limits, status] = await Promise.all([readFile('/proc/self/limits', 'utf8'), readFile('/proc/self/status', 'utf8')]);
  const capEff = /^CapEff:\s*([0-9a-f]+)$/m.exec(status)?.[1];
  if (capEff !== undefined && (BigInt(`0x${capEff}`) >> CAP_SYS_RESOURCE_BIT) & 1n) return wanted;
  const own = parseNofileHard(limits);
  return own === undefined ? wanted : Math.min(wanted, own);
}

/** Hard "Max open files" from /proc/<pid>/limits; undefined when unlimited or unparsable. */
export function parseNofileHard(limits: string): number | undefined {
  const fields = /^Max open files\s+(\S+)\s+(\S+)/m.exec(limits);
  const hard = fields?.[2];
  if (hard === undefined || hard === 'unlimited') return undefined;
  const n = Number(hard);
  return Number.isFinite(n) ? n : undefined;
}

/**
 * Since Linux 5.14 RLIMIT_NPROC counts the processes of a uid per user namespace: every
 * capsule (its own user namespace) has its own count, although all of them map root to the
 * same host uid. Older kernels count per host uid, shared by every capsule: the limit would
 * let one capsule starve the others, so it is left off there.
 */
export function nprocPerUserNamespace(kernelRelease = release()): boolean {
  const m = /^(\d+)\.(\d+)/.exec(kernelRelease);
  if (!m) return false;
  const [major, minor] = [Number(m[1]), Number(m[2])];
  return major > 5 || (major === 5 && minor >= 14);
}
