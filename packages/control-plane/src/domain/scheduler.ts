/**
 * Placement: the least-loaded host that is up and fits the request — most uncommitted
 * memory first, then CPU, then disk. Down and draining hosts are skipped; when nothing
 * fits the error says why (503 host_at_capacity), never a hang.
 */
import { sql, type Kysely } from 'kysely';
import { WrennError } from '@wrenn/shared';
import type { Database, Host } from '../db/schema.js';

export interface PlacementRequest {
  vcpus: number;
  memoryMb: number;
  diskSizeMb: number;
  /** Snapshot templates live on one host: placement is pinned there. */
  pinnedHostId?: string;
  /**
   * The template the capsule starts from, looked up in the same query as the hosts: a
   * snapshot template (the team's own shadowing a platform one of the same name) pins
   * placement to the host holding it; another team's snapshot is refused as a missing
   * template (404 template_not_found), never placed.
   */
  template?: { name: string; teamId: string };
}

/**
 * What a caller who is not an administrator learns when no host can take a capsule: not
 * which hosts exist, nor their cores, memory or disk (the full reasons are logged, and
 * administrators get them in the answer).
 */
export function publicCapacityError(err: WrennError): WrennError {
  return new WrennError(
    'host_at_capacity',
    'no host can take this capsule now: try again later, or ask for fewer vCPUs, less memory or a smaller disk',
    undefined,
    { cause: err },
  );
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

  /** Every host with what its active capsules commit (one query). */
  async loads(): Promise<HostLoad[]> {
    return (await this.loadsAndPin()).loads;
  }

  private async loadsAndPin(template?: { name: string; teamId: string }): Promise<{ loads: HostLoad[]; pinnedHostId: string | null; foreignSnapshot: boolean }> {
    const pin = template
      ? sql<string | null>`(select case when t.kind = 'snapshot' then t.host_id end from templates t
          where t.name = ${template.name} and (t.team_id = ${template.teamId} or t.team_id is null)
          order by (t.team_id is null) limit 1)`
      : sql<string | null>`null`;
    const foreign = template
      ? sql<boolean>`exists (select 1 from templates t where t.name = ${template.name} and t.kind = 'snapshot' and t.team_id <> ${template.teamId})`
      : sql<boolean>`false`;
    const rows = await this.db
      .selectFrom('hosts')
      .leftJoin(
        (eb) =>
          eb
            .selectFrom('capsules')
            .select(['host_id'])
            .select((e) => [e.fn.sum<string>('memory_mb').as('committed_mem'), e.fn.sum<string>('vcpus').as('committed_cpu')])
            .where('status', 'in', [...ACTIVE])
            .groupBy('host_id')
            .as('load'),
        (join) => join.onRef('load.host_id', '=', 'hosts.id'),
      )
      .selectAll('hosts')
      .select(['load.committed_mem', 'load.committed_cpu', pin.as('pinned_host_id'), foreign.as('foreign_snapshot')])
      .execute();
    return {
      loads: rows.map(({ committed_mem, committed_cpu, pinned_host_id: _p, foreign_snapshot: _f, ...host }) => ({
        host,
        committedMemoryMb: Number(committed_mem ?? 0),
        committedVcpus: Number(committed_cpu ?? 0),
      })),
      pinnedHostId: rows[0]?.pinned_host_id ?? null,
      foreignSnapshot: rows[0]?.foreign_snapshot === true,
    };
  }

  async pick(req: PlacementRequest): Promise<Host> {
    const { loads, pinnedHostId, foreignSnapshot } = await this.loadsAndPin(req.template);
    if (loads.length === 0) throw new WrennError('host_at_capacity', 'no host is registered: start a host agent and register it (POST /v1/hosts)');
    if (req.template && foreignSnapshot) {
      // Another team's snapshot is indistinguishable from a missing template.
      const name = req.template.name;
      throw new WrennError('template_not_found', `template ${name} does not exist: pick one listed by GET /v1/snapshots`, { template: name });
    }
    if (pinnedHostId && !req.pinnedHostId) req = { ...req, pinnedHostId };
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
