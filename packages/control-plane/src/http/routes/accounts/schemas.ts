/** TypeBox schemas of the accounts API: request bodies (closed objects) and response shapes. */
import Type from 'typebox';

export const Strict = { additionalProperties: false } as const;

export const Email = Type.String({ format: 'email', maxLength: 254, description: 'Email address (case-insensitive)' });
export const Password = Type.String({ minLength: 8, maxLength: 1024, description: 'At least 8 characters' });
export const Name = Type.String({ minLength: 1, maxLength: 200 });
export const RoleSchema = Type.Union([Type.Literal('owner'), Type.Literal('admin'), Type.Literal('member')]);
export const DateTime = Type.String({ format: 'date-time' });

/** Path ids are not pattern-checked: an unknown or malformed id is the same 404. */
export const IdParams = (description: string) => Type.Object({ id: Type.String({ minLength: 1, maxLength: 128, description }) }, Strict);

export const UserSchema = Type.Object({
  id: Type.String({ description: 'usr-...' }),
  email: Type.String(),
  name: Type.String(),
  is_admin: Type.Boolean(),
  active: Type.Boolean(),
  created_at: DateTime,
});

export const TeamSchema = Type.Object({
  id: Type.String({ description: 'team-...' }),
  name: Type.String(),
  slug: Type.String({ description: 'The name, lowercased, in a-z 0-9 and dashes' }),
  created_at: DateTime,
  role: Type.Union([Type.Literal('owner'), Type.Literal('admin'), Type.Literal('member')], { description: "The caller's role in the team" }),
});

export const MemberSchema = Type.Object({
  user_id: Type.String(),
  email: Type.String(),
  name: Type.String(),
  role: RoleSchema,
  joined_at: DateTime,
});

export const TeamDetailSchema = Type.Object({
  team: Type.Object({ id: Type.String(), name: Type.String(), slug: Type.String(), created_at: DateTime }),
  members: Type.Array(MemberSchema),
  id: Type.String(),
  name: Type.String(),
  slug: Type.String(),
  created_at: DateTime,
  role: RoleSchema,
  member_count: Type.Integer(),
});

/** Wrenn's AuthResponse (token, user_id, team_id, email, name); `user` and `team` are extensions. */
export const SessionSchema = Type.Object({
  token: Type.String({ description: 'User JWT (HS256, 6 h) for `Authorization: Bearer`' }),
  user_id: Type.String(),
  team_id: Type.String({ description: 'The team the token acts for' }),
  email: Type.String(),
  name: Type.String(),
  user: UserSchema,
  team: TeamSchema,
});

export const ApiKeySchema = Type.Object({
  id: Type.String({ description: 'key-...' }),
  team_id: Type.String(),
  name: Type.String(),
  key_prefix: Type.String({ description: 'First characters of the key, to recognise it' }),
  created_by: Type.Union([Type.String(), Type.Null()]),
  created_at: DateTime,
  last_used: Type.Union([DateTime, Type.Null()]),
  last_used_at: Type.Union([DateTime, Type.Null()], { description: 'The same as last_used (extension, kept for 0.1 clients of ours)' }),
  status: Type.Optional(Type.Union([Type.Literal('active'), Type.Literal('suspended')], { description: '`suspended` while the user who created the key is disabled: refused until they are re-enabled' })),
});

export const CreatedApiKeySchema = Type.Object({
  id: Type.String(),
  team_id: Type.String(),
  name: Type.String(),
  key: Type.String({ description: '`wrn_` + 32 hex: shown this once, store it now' }),
  key_prefix: Type.String(),
  created_by: Type.Union([Type.String(), Type.Null()]),
  created_at: DateTime,
  last_used: Type.Union([DateTime, Type.Null()]),
  last_used_at: Type.Union([DateTime, Type.Null()]),
});

export const AuditLogSchema = Type.Object({
  id: Type.String({ description: 'log-...' }),
  team_id: Type.Union([Type.String(), Type.Null()]),
  actor_user_id: Type.Union([Type.String(), Type.Null()]),
  actor_key_id: Type.Union([Type.String(), Type.Null()]),
  action: Type.String({ description: '`METHOD /route/:pattern`, or `login` / `signup`' }),
  target_type: Type.Union([Type.String(), Type.Null()]),
  target_id: Type.Union([Type.String(), Type.Null()]),
  result: Type.Union([Type.Literal('ok'), Type.Literal('error')]),
  status_code: Type.Integer(),
  detail: Type.Record(Type.String(), Type.Unknown()),
  request_id: Type.Union([Type.String(), Type.Null()]),
  created_at: DateTime,
});

export const NoContent = Type.Null({ description: 'No content' });

export { ErrorSchema } from '../error-schema.js';

/** 429 of the throttled routes (login, activate): the body says when, and so does Retry-After. */
export const TooManyAttemptsSchema = Type.Object(
  {
    error: Type.Object({
      code: Type.Literal('invalid_request'),
      reason: Type.Literal('too_many_attempts'),
      message: Type.String(),
      details: Type.Object({ retryAfterSec: Type.Integer({ minimum: 1, description: 'Seconds until an attempt is considered again' }) }),
    }),
  },
  {
    description: 'Too many failed attempts (for this email, or from this address) within WRENN_LOGIN_WINDOW_SEC: refused without checking the credentials',
    headers: { 'Retry-After': { type: 'integer', description: 'Seconds to wait before trying again' } },
  },
);
