/** A host row as the API shows it: numbers for byte counts, ISO dates, never the agent token. */
import type { Host, HostStatus } from '../../db/schema.js';

export interface HostView {
  id: string;
  name: string;
  status: HostStatus;
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

export function hostView(h: Host): HostView {
  return {
    id: h.id,
    name: h.name,
    status: h.status,
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
