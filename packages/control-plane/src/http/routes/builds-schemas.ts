/** Schemas of the builds API (Wrenn's contract for /v1/admin/builds and /v1/admin/templates). */
import Type from 'typebox';

const NoNul = '^[^\\u0000]*$';

export const CreateBuildBody = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 63 }),
    base_template: Type.Optional(Type.String({ minLength: 1, maxLength: 63 })),
    recipe: Type.Optional(Type.Array(Type.String({ maxLength: 65536, pattern: NoNul }), { maxItems: 1000 })),
    dockerfile: Type.Optional(Type.String({ maxLength: 1_000_000, pattern: NoNul })),
    healthcheck: Type.Optional(Type.String({ maxLength: 4096, pattern: NoNul })),
    vcpus: Type.Optional(Type.Integer({ minimum: 1, maximum: 64 })),
    memory_mb: Type.Optional(Type.Integer({ minimum: 128, maximum: 262144 })),
    skip_pre_post: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);

const LogEntry = Type.Object({
  step: Type.Integer(),
  phase: Type.String(),
  cmd: Type.String(),
  stdout: Type.String(),
  stderr: Type.String(),
  exit: Type.Integer(),
  ok: Type.Boolean(),
  elapsed_ms: Type.Integer(),
  running: Type.Optional(Type.Boolean()),
  timed_out: Type.Optional(Type.Boolean()),
  truncated: Type.Optional(Type.Boolean()),
  error: Type.Optional(Type.String()),
});

export const BuildSchema = Type.Object({
  id: Type.String(),
  name: Type.String(),
  team_id: Type.Union([Type.String(), Type.Null()]),
  base_template: Type.String(),
  recipe: Type.Array(Type.String()),
  healthcheck: Type.Optional(Type.String()),
  vcpus: Type.Number(),
  memory_mb: Type.Integer(),
  skip_pre_post: Type.Boolean(),
  status: Type.Union([Type.Literal('pending'), Type.Literal('running'), Type.Literal('success'), Type.Literal('failed'), Type.Literal('cancelled')]),
  current_step: Type.Integer(),
  total_steps: Type.Integer(),
  logs: Type.Array(LogEntry),
  error: Type.Optional(Type.String()),
  sandbox_id: Type.Optional(Type.String()),
  host_id: Type.Optional(Type.String()),
  default_user: Type.String(),
  default_env: Type.Record(Type.String(), Type.String()),
  template_type: Type.Optional(Type.Union([Type.Literal('base'), Type.Literal('snapshot')])),
  created_at: Type.String({ format: 'date-time' }),
  started_at: Type.Optional(Type.String({ format: 'date-time' })),
  completed_at: Type.Optional(Type.String({ format: 'date-time' })),
});

export const TemplateListingSchema = Type.Object({
  name: Type.String(),
  type: Type.Union([Type.Literal('base'), Type.Literal('snapshot')]),
  vcpus: Type.Number(),
  memory_mb: Type.Integer(),
  size_bytes: Type.Number(),
  team_id: Type.Union([Type.String(), Type.Null()]),
  host_id: Type.Union([Type.String(), Type.Null()]),
  build_id: Type.Union([Type.String(), Type.Null()]),
  default_user: Type.Union([Type.String(), Type.Null()]),
  default_env: Type.Record(Type.String(), Type.String()),
  created_at: Type.String({ format: 'date-time' }),
});
