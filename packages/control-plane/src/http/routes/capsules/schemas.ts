/**
 * TypeBox schemas of the capsules API (request bodies are closed objects: unknown fields
 * are a 400) and the capsule's JSON view. The envd access token never leaves the server.
 */
import Type from 'typebox';
import type { Kysely } from 'kysely';
import type { Capsule, Database } from '../../../db/schema.js';
import { ALL_STATUSES } from '../../../domain/capsules/status.js';

export const Strict = { additionalProperties: false } as const;
export const TAGS = ['capsules'];

export const DateTime = Type.String({ format: 'date-time' });
const NullableDateTime = Type.Union([DateTime, Type.Null()]);

/** Path ids are not pattern-checked: an unknown or malformed id is the same 404. */
export const IdParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 128, description: 'Capsule id (cl-...)' }) }, Strict);

export const Status = Type.Enum(ALL_STATUSES, { description: 'pending, starting, running, pausing, paused, resuming, stopping, stopped, error or missing' });

const EnvName = Type.String({ minLength: 1, maxLength: 256, pattern: '^[^=\\u0000]+$' });
export const Envs = Type.Record(EnvName, Type.String({ maxLength: 131072 }), { maxProperties: 256, description: 'Environment variables' });
export const Metadata = Type.Record(Type.String({ minLength: 1, maxLength: 256 }), Type.String({ maxLength: 4096 }), {
  maxProperties: 64,
  description: 'Free-form string labels, kept with the capsule',
});

/** An absolute or relative path inside the capsule (relative: from the default user's home). */
export const Path = Type.String({ minLength: 1, maxLength: 4096, pattern: '^[^\\u0000]+$' });

export const CreateCapsuleBody = Type.Object(
  {
    template: Type.String({ default: 'minimal', minLength: 1, maxLength: 128, pattern: '^[A-Za-z0-9][A-Za-z0-9._-]*$', description: 'Template name' }),
    vcpus: Type.Number({ default: 1, exclusiveMinimum: 0, maximum: 16, description: 'CPU quota in cores (fractions allowed)' }),
    memory_mb: Type.Integer({ default: 512, minimum: 128, maximum: 65536, description: 'Memory limit in MB' }),
    timeout_sec: Type.Integer({ default: 0, minimum: 0, maximum: 30 * 86400, description: 'Pause after this many seconds without activity; 0 = never' }),
    disk_size_mb: Type.Optional(Type.Integer({ minimum: 1, maximum: 1048576, description: "Writable disk size in MB (default: the host's default, never below the template's size)" })),
    metadata: Type.Optional(Metadata),
    envs: Type.Optional(Envs),
    auto_resume: Type.Optional(Type.Boolean({ description: 'When paused, resume on the next exec/file/process call instead of answering 409' })),
    host_tags: Type.Optional(
      Type.Array(Type.String({ minLength: 1, maxLength: 63, pattern: '^[A-Za-z0-9][A-Za-z0-9._:=-]*$' }), {
        maxItems: 16,
        uniqueItems: true,
        description: 'Extension: place the capsule only on a host carrying every one of these tags',
      }),
    ),
  },
  Strict,
);

/**
 * Wrenn's Capsule (id, status, template, vcpus, memory_mb, timeout_sec, guest_ip, host_ip,
 * created_at, started_at, last_active_at, last_updated) and ours beside it (extensions).
 */
export const CapsuleSchema = Type.Object({
  id: Type.String({ description: 'cl-...' }),
  status: Status,
  template: Type.String(),
  guest_ip: Type.String({ description: "The capsule's address on its host's network ('' until placed)" }),
  host_ip: Type.String({ description: "Its host's address ('' when not placed)" }),
  started_at: NullableDateTime,
  last_active_at: NullableDateTime,
  last_updated: DateTime,
  vcpus: Type.Number(),
  memory_mb: Type.Integer(),
  disk_size_mb: Type.Integer({ description: '0 until the host reports the size it gave' }),
  timeout_sec: Type.Integer(),
  auto_resume: Type.Boolean(),
  host_id: Type.Union([Type.String(), Type.Null()]),
  address: Type.Union([Type.String(), Type.Null()], { description: "The capsule's address on its host's network" }),
  metadata: Type.Record(Type.String(), Type.String()),
  error: Type.Union([Type.String(), Type.Null()], { description: 'Why the capsule is in `error`' }),
  created_at: DateTime,
  updated_at: DateTime,
  last_activity_at: DateTime,
  stopped_at: NullableDateTime,
});

function iso(d: Date | string | null): string | null {
  if (d === null) return null;
  return (d instanceof Date ? d : new Date(d)).toISOString();
}

/** The capsule as the API shows it (datetimes in ISO 8601 with `Z`; no envd token). */
export function capsuleView(c: Capsule, hostIp = '') {
  return {
    id: c.id,
    status: c.status,
    template: c.template,
    guest_ip: c.address ?? '',
    host_ip: c.host_id ? hostIp : '',
    started_at: c.status === 'pending' || (c.status === 'error' && !c.host_id) ? null : iso(c.created_at),
    last_active_at: iso(c.last_activity_at),
    last_updated: iso(c.updated_at)!,
    vcpus: Number(c.vcpus),
    memory_mb: c.memory_mb,
    disk_size_mb: c.disk_size_mb,
    timeout_sec: c.timeout_sec,
    auto_resume: c.auto_resume,
    host_id: c.host_id,
    address: c.address,
    metadata: typeof c.metadata === 'string' ? (JSON.parse(c.metadata) as Record<string, string>) : (c.metadata ?? {}),
    error: c.error,
    created_at: iso(c.created_at)!,
    updated_at: iso(c.updated_at)!,
    last_activity_at: iso(c.last_activity_at)!,
    stopped_at: iso(c.stopped_at),
  };
}

export { ErrorSchema } from '../error-schema.js';
import { ErrorSchema } from '../error-schema.js';

/** Error responses every capsule route can give, for the OpenAPI document. */
export const CommonErrors = {
  400: ErrorSchema,
  401: ErrorSchema,
  404: ErrorSchema,
  409: ErrorSchema,
  503: ErrorSchema,
};

/** Host id → the address in its agent URL, for `host_ip`. */
export async function hostIps(db: Kysely<Database>): Promise<Map<string, string>> {
  const rows = await db.selectFrom('hosts').select(['id', 'agent_url']).execute();
  const out = new Map<string, string>();
  for (const r of rows) {
    if (!r.agent_url) continue;
    try {
      out.set(r.id, new URL(r.agent_url).hostname.replace(/^\[|\]$/g, ''));
    } catch {
      // a malformed URL has no address to show
    }
  }
  return out;
}

export const NoContent = Type.Null({ description: 'No content' });

export const FileEntrySchema = Type.Object({
  name: Type.String(),
  path: Type.String(),
  type: Type.Union([Type.Literal('file'), Type.Literal('directory'), Type.Literal('symlink')]),
  size: Type.Integer({ format: 'int64' }),
  mode: Type.Integer({ description: 'Unix mode bits' }),
  permissions: Type.String({ description: 'As ls shows them, e.g. -rw-r--r--' }),
  owner: Type.String(),
  group: Type.String(),
  modified_at: Type.Integer({ format: 'int64', description: 'Last modification, Unix seconds (0 when unknown)' }),
  symlink_target: Type.Union([Type.String(), Type.Null()], { description: 'Set only for symlinks' }),
});

export const PathBody = Type.Object({ path: Path }, Strict);
