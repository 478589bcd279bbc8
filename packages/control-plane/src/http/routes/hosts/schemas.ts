/** TypeBox schemas of the /v1/hosts routes (they also make the OpenAPI document). */
import Type from 'typebox';

const Bytes = Type.Integer({ minimum: 0 });
const HttpUrl = Type.String({ pattern: '^https?://[^\\s]+$', maxLength: 2048, description: 'http(s) URL' });

const Nullable = <T extends ReturnType<typeof Type.String> | ReturnType<typeof Type.Integer>>(t: T) => Type.Union([t, Type.Null()]);

/**
 * Wrenn's Host (id, type, team_id, provider, availability_zone, arch, cpu_cores, memory_mb,
 * disk_gb, address, status, last_heartbeat_at, created_by, created_at, updated_at) and
 * ours beside it (name, tags, agent_url, version, the byte counts, capsules: extensions).
 */
export const HostSchema = Type.Object({
  id: Type.String(),
  type: Type.Union([Type.Literal('regular'), Type.Literal('byoc')]),
  team_id: Nullable(Type.String()),
  provider: Nullable(Type.String()),
  availability_zone: Nullable(Type.String()),
  arch: Nullable(Type.String()),
  cpu_cores: Nullable(Type.Integer()),
  memory_mb: Nullable(Type.Integer()),
  disk_gb: Nullable(Type.Integer({ description: 'Free disk, GB' })),
  address: Nullable(Type.String()),
  status: Type.Union([Type.Literal('pending'), Type.Literal('online'), Type.Literal('offline'), Type.Literal('draining'), Type.Literal('unreachable')], {
    description: 'pending until the agent registers; online while it heartbeats; offline once it stopped; draining: takes no new capsules',
  }),
  updated_at: Type.String({ format: 'date-time' }),
  tags: Type.Array(Type.String()),
  name: Type.String(),
  agent_url: Type.Union([Type.String(), Type.Null()]),
  version: Type.Union([Type.String(), Type.Null()]),
  vcpus_total: Type.Integer(),
  memory_total_bytes: Type.Integer(),
  memory_free_bytes: Type.Integer(),
  disk_free_bytes: Type.Integer(),
  capsules: Type.Integer(),
  last_heartbeat_at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  created_by: Type.Union([Type.String(), Type.Null()]),
  created_at: Type.String({ format: 'date-time' }),
});

export const HostParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 128 }) }, { additionalProperties: false });

export const CreateHostBody = Type.Object(
  {
    type: Type.Optional(Type.Union([Type.Literal('regular'), Type.Literal('byoc')], { default: 'regular' })),
    team_id: Type.Optional(Type.String({ minLength: 1, maxLength: 128, description: 'The team a BYOC host belongs to (default: your current team)' })),
    provider: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })),
    availability_zone: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })),
    name: Type.Optional(Type.String({ minLength: 1, maxLength: 128, description: 'Extension: a display name (default: the id)' })),
  },
  { additionalProperties: false },
);

export const CreateHostReply = Type.Object({
  host: HostSchema,
  registration_token: Type.String({ description: 'One-time token for `wrenn-agent --register`; shown only here, valid for 24 h.' }),
});

export const DeleteHostQuery = Type.Object({ force: Type.Boolean({ default: false }) }, { additionalProperties: false });

export const RegisterBody = Type.Object(
  {
    token: Type.String({ minLength: 1, maxLength: 512 }),
    agent_url: HttpUrl,
    name: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })),
    vcpus_total: Type.Integer({ minimum: 1 }),
    memory_total_bytes: Bytes,
    memory_free_bytes: Bytes,
    disk_free_bytes: Bytes,
    agent_token: Type.String({ minLength: 1, maxLength: 512, description: 'Bearer token the control plane presents to the agent.' }),
    proxy_url: Type.Optional({ ...HttpUrl, description: "Base URL of the agent's proxy listener (proxied capsule ports)" }),
    version: Type.String({ minLength: 1, maxLength: 64 }),
  },
  { additionalProperties: false },
);

export const SessionReply = Type.Object({
  host: HostSchema,
  token: Type.String({ description: 'The same as access_token' }),
  host_id: Type.String(),
  access_token: Type.String({ description: 'Host JWT (Bearer) for heartbeats; valid expires_in seconds.' }),
  refresh_token: Type.String({ description: 'Opaque, one use: POST /v1/hosts/auth/refresh returns a new one.' }),
  expires_in: Type.Integer(),
});

export const RefreshBody = Type.Object({ refresh_token: Type.String({ minLength: 1, maxLength: 512 }) }, { additionalProperties: false });

export const HeartbeatBody = Type.Object(
  {
    capsules: Type.Integer({ minimum: 0 }),
    memory_free_bytes: Bytes,
    disk_free_bytes: Bytes,
    vcpus_total: Type.Optional(Type.Integer({ minimum: 1 })),
    memory_total_bytes: Type.Optional(Bytes),
    agent_url: Type.Optional(HttpUrl),
    agent_token: Type.Optional(Type.String({ minLength: 1, maxLength: 512 })),
    proxy_url: Type.Optional(HttpUrl),
    version: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
    start_queue: Type.Optional(
      Type.Object(
        { waiting: Type.Integer({ minimum: 0 }), active: Type.Integer({ minimum: 0 }) },
        { additionalProperties: false, description: "Capsule starts and restores waiting for a turn on the host, and running (the agent's admission control)" },
      ),
    ),
  },
  { additionalProperties: false },
);

export const HeartbeatReply = Type.Object({
  status: Type.Union([Type.Literal('pending'), Type.Literal('up'), Type.Literal('down'), Type.Literal('draining')]),
});
