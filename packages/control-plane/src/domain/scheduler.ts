/**
 * Placement: the least-loaded host that is up and fits the request — most uncommitted
 * memory first, then CPU, then disk. Down and draining hosts are skipped, so are another
 * team's BYOC hosts, hosts without every tag the capsule asks for, and suspect hosts (an
 * agent that refused a connection or did not connect in time since its last heartbeat:
 * `markSuspect`; its next heartbeat clears it). Placement ranks every host that fits, best
 * first, so a create can go on to the next when one turns out dead. When nothing fits the
 * error says why (503 host_at_capacity), never a hang.
 */
import { sql, type Kysely } from 'kysely';
import { WrennError } from '@wrenn/shared';
import type { Database, Host } from '../db/schema.js';
import { tagsOf } from './hosts/tags.js';

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
  /** The capsule's team: a BYOC host takes only its own team's capsules. */
  teamId?: string;
  /** Only hosts carrying every one of these tags. */
  hostTags?: string[];
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

/**
 * How far a host's resources may be promised beyond what it has. Memory limits and CPU
 * quotas are caps, not reservations (an idle capsule uses ~20 MB and no CPU), so both are
 * overcommitted by default; disk sizes are sparse files but fill up for real, so granted
 * disk is bounded by the host's free disk (ratio 1).
 */
export interface OvercommitRatios {
  /** WRENN_CPU_OVERCOMMIT: committed vCPUs ≤ cores × this. */
  cpu: number;
  /** WRENN_MEMORY_OVERCOMMIT: committed memory limits ≤ host memory × this. */
  memory: number;
  /** WRENN_DISK_OVERCOMMIT: granted disk sizes ≤ the host's free disk × this. */
  disk: number;
}

/** Defaults that fit 500 idle capsules of 0.25 vCPU / 128 MB on a 2-core, 24 GB host. */
export const DEFAULT_OVERCOMMIT: Readonly<OvercommitRatios> = Object.freeze({ cpu: 64, memory: 3, disk: 1 });

const ACTIVE = ['pending', 'starting', 'running', 'pausing', 'resuming'] as const;
/** Capsules whose disk is kept on their host (a paused capsule keeps its disk). */
const HOLDING_DISK = [...ACTIVE, 'paused'] as const;

export interface TemplateDefaults {
  env: Record<string, string>;
  user: string | null;
}

/** json_build_object comes back parsed (Postgres) or as text (some drivers). */
function parseDefaults(raw: unknown): TemplateDefaults | null {
  if (raw === null || raw === undefined) return null;
  const v = (typeof raw === 'string' ? JSON.parse(raw) : raw) as { env?: unknown; user?: unknown };
  const env = typeof v.env === 'string' ? (JSON.parse(v.env) as Record<string, string>) : ((v.env ?? {}) as Record<string, string>);
  return { env, user: typeof v.user === 'string' && v.user ? v.user : null };
}

export interface HostLoad {
  host: Host;
  committedMemoryMb: number;
  committedVcpus: number;
  /** Disk granted to the capsules that keep a disk on the host. */
  committedDiskMb: number;
}

export class Scheduler {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly ratios: OvercommitRatios = DEFAULT_OVERCOMMIT,
  ) {}

  /** Every host with what its active capsules and running builds commit (one query). */
  async loads(): Promise<HostLoad[]> {
    return (await this.loadsAndPin()).loads;
  }

  private async loadsAndPin(
    template?: { name: string; teamId: string },
  ): Promise<{ loads: HostLoad[]; pinnedHostId: string | null; foreignSnapshot: boolean; defaults: TemplateDefaults | null }> {
    // Snapshot templates and templates made by builds live on one host (host_id).
    const pin = template
      ? sql<string | null>`(select t.host_id from templates t
          where t.name = ${template.name} and (t.team_id = ${template.teamId} or t.team_id is null)
          order by (t.team_id is null) limit 1)`
      : sql<string | null>`null`;
    // A name the team does not have but another team's snapshot is known by on its host
    // (a snapshot made before names were per team, or a guessed host name).
    const foreign = template
      ? sql<boolean>`(exists (select 1 from templates t where coalesce(t.host_name, t.name) = ${template.name} and t.team_id <> ${template.teamId})
          and not exists (select 1 from templates t where t.name = ${template.name} and (t.team_id = ${template.teamId} or t.team_id is null)))`
      : sql<boolean>`false`;
    // What a build put in the template (ENV, USER) applies to every capsule from it (T4).
    const defaults = template
      ? sql<{ env: Record<string, string>; user: string | null } | null>`(select json_build_object('env', t.default_env, 'user', t.default_user) from templates t
          where t.name = ${template.name} and t.build_id is not null and (t.team_id = ${template.teamId} or t.team_id is null)
          order by (t.team_id is null) limit 1)`
      : sql<null>`null`;
    const rows = await this.db
      .selectFrom('hosts')
      .leftJoin(
        (eb) =>
          eb
            .selectFrom('capsules')
            .select(['host_id'])
            .select((e) => [
              sql<string>`sum(memory_mb) filter (where status in (${sql.join([...ACTIVE])}))`.as('committed_mem'),
              sql<string>`sum(vcpus) filter (where status in (${sql.join([...ACTIVE])}))`.as('committed_cpu'),
              e.fn.sum<string>('disk_size_mb').as('committed_disk'),
            ])
            .where('status', 'in', [...HOLDING_DISK])
            .groupBy('host_id')
            .as('load'),
        (join) => join.onRef('load.host_id', '=', 'hosts.id'),
      )
      // A running build's capsule is not in `capsules`, yet it holds what its spec asked for.
      .leftJoin(
        (eb) =>
          eb
            .selectFrom('builds')
            .select(['host_id'])
            .select([
              sql<string>`sum((spec->>'memory_mb')::numeric)`.as('build_mem'),
              sql<string>`sum((spec->>'vcpus')::numeric)`.as('build_cpu'),
            ])
            .where('status', '=', 'running')
            .where('host_id', 'is not', null)
            .groupBy('host_id')
            .as('building'),
        (join) => join.onRef('building.host_id', '=', 'hosts.id'),
      )
      .selectAll('hosts')
      .select(['load.committed_mem', 'load.committed_cpu', 'load.committed_disk', 'building.build_mem', 'building.build_cpu', pin.as('pinned_host_id'), foreign.as('foreign_snapshot'), defaults.as('template_defaults')])
      .execute();
    return {
      loads: rows.map(({ committed_mem, committed_cpu, committed_disk, build_mem, build_cpu, pinned_host_id: _p, foreign_snapshot: _f, template_defaults: _d, ...host }) => ({
        host,
        committedMemoryMb: Number(committed_mem ?? 0) + Number(build_mem ?? 0),
        committedVcpus: Number(committed_cpu ?? 0) + Number(build_cpu ?? 0),
        committedDiskMb: Number(committed_disk ?? 0),
      })),
      pinnedHostId: rows[0]?.pinned_host_id ?? null,
      foreignSnapshot: rows[0]?.foreign_snapshot === true,
      defaults: parseDefaults(rows[0]?.template_defaults),
    };
  }

  async pick(req: PlacementRequest): Promise<Host> {
    return (await this.place(req)).host;
  }

  /**
   * The host's agent could not be reached (connection refused, or not connected in time):
   * no replica places capsules there until it heartbeats again, instead of until the
   * heartbeat window has passed. The database's clock, like the heartbeat's.
   */
  async markSuspect(hostId: string): Promise<void> {
    await this.db.updateTable('hosts').set({ suspect_at: sql`now()` as never }).where('id', '=', hostId).execute();
  }

  /**
   * The best host, every host that fits best first (`ranked[0]` is `host`), and the
   * defaults a build gave the template (null for other templates).
   */
  async place(req: PlacementRequest): Promise<{ host: Host; ranked: Host[]; defaults: TemplateDefaults | null }> {
    const { loads, pinnedHostId, foreignSnapshot, defaults } = await this.loadsAndPin(req.template);
    if (loads.length === 0) throw new WrennError('host_at_capacity', 'no host is registered: start a host agent and register it (POST /v1/hosts)');
    if (req.template && foreignSnapshot) {
      // Another team's snapshot is indistinguishable from a missing template.
      const name = req.template.name;
      throw new WrennError('template_not_found', `template ${name} does not exist: pick one listed by GET /v1/snapshots`, { template: name });
    }
    const ranked = rankHosts(loads, pinnedHostId && !req.pinnedHostId ? { ...req, pinnedHostId } : req, this.ratios);
    return { host: ranked[0]!, ranked, defaults };
  }
}

/** The best host for the request (see rankHosts). */
export function chooseHost(loads: readonly HostLoad[], req: PlacementRequest, ratios: OvercommitRatios = DEFAULT_OVERCOMMIT): Host {
  return rankHosts(loads, req, ratios)[0]!;
}

/**
 * The choice itself, from the hosts' loads (pure: no I/O). Only `up`, unsuspected hosts that fit the
 * request (its tags; another team's BYOC host never; cores; memory, CPU and disk left to
 * commit within `ratios`) qualify, only the pinned one when `req.pinnedHostId` is set;
 * ranked by room (memory, then CPU, a little for disk), never empty. Nothing fits: 503
 * host_at_capacity naming each host's reason.
 */
export function rankHosts(loads: readonly HostLoad[], req: PlacementRequest, ratios: OvercommitRatios = DEFAULT_OVERCOMMIT): Host[] {
  const reasons: string[] = [];
  const fits: Array<{ load: HostLoad; score: number }> = [];
  for (const load of loads) {
    const { host } = load;
    if (req.pinnedHostId && host.id !== req.pinnedHostId) continue;
    if (host.type === 'byoc' && host.team_id !== req.teamId) continue; // not even named: another team's host
    if (req.hostTags?.length) {
      const tags = tagsOf(host);
      const missing = req.hostTags.filter((t) => !tags.includes(t));
      if (missing.length > 0) {
        reasons.push(`${host.id} lacks tag ${missing.join(', ')}`);
        continue;
      }
    }
    if (host.status !== 'up') {
      reasons.push(`${host.id} is ${host.status}`);
      continue;
    }
    if (isSuspect(host)) {
      reasons.push(`${host.id} did not answer since its last heartbeat`);
      continue;
    }
    const memTotalMb = Number(host.memory_total_bytes) / 1048576;
    const { cpu, memory, disk } = ratios;
    const memRoomMb = memTotalMb * memory - load.committedMemoryMb;
    const cpuRoom = host.vcpus_total * cpu - load.committedVcpus;
    const diskFreeMb = Number(host.disk_free_bytes) / 1048576;
    // Granted sizes are counted, not what the sparse disks use so far: two capsules of
    // 60 GB do not both fit in 77 GB free, even while both are still empty.
    const diskRoomMb = diskFreeMb * disk - load.committedDiskMb;
    if (req.vcpus > host.vcpus_total) reasons.push(`${host.id} has ${host.vcpus_total} cores`);
    else if (req.memoryMb > memRoomMb) reasons.push(`${host.id} has ${Math.max(0, Math.floor(memRoomMb))} MB of memory left to commit`);
    else if (req.vcpus > cpuRoom) reasons.push(`${host.id} has ${Math.max(0, Math.round(cpuRoom * 100) / 100)} vCPUs left to commit`);
    else if (diskFreeMb > 0 && req.diskSizeMb > diskRoomMb) {
      reasons.push(`${host.id} has ${Math.max(0, Math.floor(diskRoomMb))} MB of disk left to grant (${Math.floor(diskFreeMb)} MB free, ${load.committedDiskMb} MB granted)`);
    } else fits.push({ load, score: memRoomMb / Math.max(1, memTotalMb) + cpuRoom / Math.max(1, host.vcpus_total * cpu) + Math.min(1, Math.max(0, diskRoomMb) / 1e6) * 0.1 });
  }
  if (fits.length === 0) {
    if (req.hostTags?.length && reasons.length === 0) throw new WrennError('host_at_capacity', `no host carries the tags ${req.hostTags.join(', ')}`);
    if (req.pinnedHostId && reasons.length === 0) throw new WrennError('host_at_capacity', `host ${req.pinnedHostId} that holds this template is not registered`);
    throw new WrennError('host_at_capacity', `no host can take ${req.vcpus} vCPU / ${req.memoryMb} MB now: ${reasons.join('; ')}`);
  }
  fits.sort((a, b) => b.score - a.score);
  return fits.map((f) => f.load.host);
}

/** Failed a connection after its last heartbeat (see Scheduler.markSuspect). */
export function isSuspect(host: Pick<Host, 'suspect_at' | 'last_heartbeat_at'>): boolean {
  if (!host.suspect_at) return false;
  return !host.last_heartbeat_at || new Date(host.suspect_at).getTime() >= new Date(host.last_heartbeat_at).getTime();
}
