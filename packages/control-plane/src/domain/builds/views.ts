/** A build as the API shows it (Wrenn's contract: /v1/admin/builds). */
import type { Build } from '../../db/schema.js';

export interface BuildLogEntry {
  step: number;
  phase: string;
  cmd: string;
  stdout: string;
  stderr: string;
  /** Exit code; -1 while the step runs or when it was stopped (timeout, cancel). */
  exit: number;
  ok: boolean;
  elapsed_ms: number;
  /** True while the step runs. */
  running?: boolean;
  timed_out?: boolean;
  /** Output beyond the cap was dropped (the end is kept). */
  truncated?: boolean;
}

export interface BuildSpec {
  recipe: string[];
  healthcheck?: string;
  vcpus: number;
  memory_mb: number;
  skip_pre_post: boolean;
}

export interface BuildView {
  id: string;
  name: string;
  team_id: string | null;
  base_template: string;
  recipe: string[];
  healthcheck?: string;
  vcpus: number;
  memory_mb: number;
  skip_pre_post: boolean;
  status: Build['status'];
  current_step: number;
  total_steps: number;
  logs: BuildLogEntry[];
  error?: string;
  sandbox_id?: string;
  host_id?: string;
  default_user: string;
  default_env: Record<string, string>;
  template_type?: 'base' | 'snapshot';
  created_at: string;
  started_at?: string;
  completed_at?: string;
}

const iso = (d: Date | string | null) => (d ? new Date(d).toISOString() : undefined);

export function buildView(b: Build): BuildView {
  const spec = b.spec as BuildSpec;
  return {
    id: b.id,
    name: b.name,
    team_id: b.team_id,
    base_template: b.base_template,
    recipe: spec.recipe,
    ...(spec.healthcheck ? { healthcheck: spec.healthcheck } : {}),
    vcpus: spec.vcpus,
    memory_mb: spec.memory_mb,
    skip_pre_post: spec.skip_pre_post,
    status: b.status,
    current_step: b.current_step,
    total_steps: b.total_steps,
    logs: b.logs as BuildLogEntry[],
    ...(b.error ? { error: b.error } : {}),
    ...(b.capsule_id ? { sandbox_id: b.capsule_id } : {}),
    ...(b.host_id ? { host_id: b.host_id } : {}),
    default_user: b.default_user,
    default_env: b.default_env,
    ...(b.template_type ? { template_type: b.template_type } : {}),
    created_at: iso(b.created_at)!,
    ...(b.started_at ? { started_at: iso(b.started_at) } : {}),
    ...(b.finished_at ? { completed_at: iso(b.finished_at) } : {}),
  };
}
