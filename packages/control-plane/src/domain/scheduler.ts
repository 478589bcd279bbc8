/**
 * Placement: the least-loaded host that is up and fits the request — most uncommitted
 * memory first, then CPU, then disk. Down and draining hosts are skipped; when nothing
 * fits the error says why (503 host_at_capacity), never a hang.
 */
import type { Kysely } from 'kysely';
import { WrennError } from '@wrenn/shared';
import type { Database, Host } from '../db/schema.js';

export interface PlacementRequest {
  vcpus: number;
  memoryMb: number;
  diskSizeMb: number;
  /** Snapshot templates live on one host: placement is pinned there. */
  pinnedHostId?: string;
}

/** Memory limits are caps, not reservations: a host may commit this multiple of its memory. */
export const MEMORY_OVERCOMMIT = 2;
/** Same for CPU quotas. */
export const CPU_OVERCOMMIT = 8;

const ACTIVE = ['pending', 'starting', 'running', 'pausing', 'resuming'] as const;

export interface HostLoad {
  host: Host;
  committedMemoryMb: number;
  committedVcpus: number;
}

export class Scheduler {
  constructor(private readonly db: Kysely<Database>) {}

  async loads(): Promise<HostLoad[]> {
    const hosts = await this.db.selectFrom('hosts').selectAll().execute();
    const sums = await this.db
      .selectFrom('capsules')
      .select(['host_id'])
      .select((eb) => [eb.fn.sum<string>('memory_mb').as('mem'), eb.fn.sum<string>('vcpus').as('cpu')])
      .where('status', 'in', [...ACTIVE])
      .groupBy('host_id')
      .execute();
    const byHost = new Map(sums.map((s) => [s.host_id, s]));
    return hosts.map((host) => ({
      host,
      committedMemoryMb: Number(byHost.get(host.id)?.mem ?? 0),
      committedVcpus: Number(byHost.get(host.id)?.cpu ?? 0),
    }));
  }

  async pick(req: PlacementRequest): Promise<Host> {
    const loads = await this.loads();
    if (loads.length === 0) throw new WrennError('host_at_capacity', 'no host is registered: start a host agent and register it (POST /v1/hosts)');
    const reasons: string[] = [];
    const fits: Array<{ load: HostLoad; score: number }> = [];
    for (const load of loads) {
      const { host } = load;
      if (req.pinnedHostId && host.id !== req.pinnedHostId) continue;
      if (host.status !== 'up') {
        reasons.push(`${host.id} is ${host.status}`);
        continue;
      }
      const memTotalMb = Number(host.memory_total_bytes) / 1048576;
      const memRoomMb = memTotalMb * MEMORY_OVERCOMMIT - load.committedMemoryMb;
      const cpuRoom = host.vcpus_total * CPU_OVERCOMMIT - load.committedVcpus;
      const diskFreeMb = Number(host.disk_free_bytes) / 1048576;
      if (req.vcpus > host.vcpus_total) reasons.push(`${host.id} has ${host.vcpus_total} cores`);
      else if (req.memoryMb > memRoomMb) reasons.push(`${host.id} has ${Math.max(0, Math.floor(memRoomMb))} MB of memory left to commit`);
      else if (req.vcpus > cpuRoom) reasons.push(`${host.id} has no CPU left to commit`);
      else if (diskFreeMb > 0 && req.diskSizeMb > diskFreeMb) reasons.push(`${host.id} has ${Math.floor(diskFreeMb)} MB of disk free`);
      else fits.push({ load, score: memRoomMb / Math.max(1, memTotalMb) + cpuRoom / Math.max(1, host.vcpus_total * CPU_OVERCOMMIT) + Math.min(1, diskFreeMb / 1e6) * 0.1 });
    }
    if (fits.length === 0) {
      if (req.pinnedHostId && reasons.length === 0) throw new WrennError('host_at_capacity', `host ${req.pinnedHostId} that holds this template is not registered`);
      throw new WrennError('host_at_capacity', `no host can take ${req.vcpus} vCPU / ${req.memoryMb} MB now: ${reasons.join('; ')}`);
    }
    fits.sort((a, b) => b.score - a.score);
    return fits[0]!.load.host;
  }
}
