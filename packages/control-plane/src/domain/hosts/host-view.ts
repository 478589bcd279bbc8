/** A host row as the API shows it: numbers for byte counts, ISO dates, never the agent token. */
import type { Host, HostType } from '../../db/schema.js';
import { tagsOf } from './tags.js';

/** Wrenn's names for our host states. */
const STATUS = { pending: 'pending', up: 'online', down: 'offline', draining: 'draining' } as const;

export interface HostView {
  id: string;
  type: HostType;
  team_id: string | null;
  provider: string | null;
  availability_zone: string | null;
  arch: string | null;
  cpu_cores: number | null;
  memory_mb: number | null;
  disk_gb: number | null;
  address: string | null;
  status: (typeof STATUS)[keyof typeof STATUS];
  updated_at: string;
  tags: string[];
  name: string;
  agent_url: string | null;
  version: string | null;
  vcpus_total: number;
  memory_total_bytes: number;
  memory_free_bytes: number;
  disk_free_bytes: number;
  capsules: number;
  last_heartbeat_at: string | null;
  created_by: string | null;
  created_at: string;
}

function iso(d: Date | string | null): string | null {
  if (d === null) return null;
  return (d instanceof Date ? d : new Date(d)).toISOString();
}

function addressOf(url: string | null): string | null {
  if (!url) return null;
  try {
    return new URL(url).hostname.replace(/^\[|\]$/g, '');
  } catch {
    return null;
  }
}

export function hostView(h: Host): HostView {
  const registered = h.status !== 'pending';
  return {
    id: h.id,
    type: h.type,
    team_id: h.team_id,
    provider: h.provider,
    availability_zone: h.availability_zone,
    arch: null, // agents do not report it yet
    cpu_cores: registered ? h.vcpus_total : null,
    memory_mb: registered ? Math.floor(Number(h.memory_total_bytes) / 1048576) : null,
    disk_gb: registered ? Math.floor(Number(h.disk_free_bytes) / 1073741824) : null,
    address: addressOf(h.agent_url),
    status: STATUS[h.status],
    updated_at: iso(h.last_heartbeat_at ?? h.created_at)!,
    tags: tagsOf(h),
    name: h.name,
    agent_url: h.agent_url,
    version: h.version,
    vcpus_total: h.vcpus_total,
    memory_total_bytes: Number(h.memory_total_bytes),
    memory_free_bytes: Number(h.memory_free_bytes),
    disk_free_bytes: Number(h.disk_free_bytes),
    capsules: h.capsules,
    last_heartbeat_at: iso(h.last_heartbeat_at),
    created_by: h.created_by,
    created_at: iso(h.created_at)!,
  };
}
