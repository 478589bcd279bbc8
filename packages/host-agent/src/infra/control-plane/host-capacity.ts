/** What the agent tells the control plane about its capacity, at registration and in each heartbeat. */
import { statfs } from 'node:fs/promises';
import { freemem, totalmem } from 'node:os';

/** Capacity as the control plane's scheduler sees it: the same facts Health reports. */
export interface HostCapacity {
  vcpus_total: number;
  memory_total_bytes: number;
  memory_free_bytes: number;
  disk_free_bytes: number;
  capsules: number;
  /** Capsule starts and restores waiting for a turn (rpc/admission.ts), and running. */
  start_queue?: { waiting: number; active: number };
}

export async function hostFacts(
  config: { dataDir: string; vcpusTotal: number },
  capsules: () => number,
  startQueue?: () => { waiting: number; active: number },
): Promise<HostCapacity> {
  const disk = await statfs(config.dataDir).catch(() => undefined);
  return {
    vcpus_total: config.vcpusTotal,
    memory_total_bytes: totalmem(),
    memory_free_bytes: freemem(),
    disk_free_bytes: disk ? disk.bavail * disk.bsize : 0,
    capsules: capsules(),
    ...(startQueue ? { start_queue: startQueue() } : {}),
  };
}
