/**
 * Client → server messages of the WebSocket routes (docs/decisions.md#a3), as
 * TypeBox schemas, and their validation. Server → client messages are built inline by
 * the handlers: started/output/exit/error/ping (PTY), start/stdout/stderr/exit/error
 * (exec and process streams).
 */
import Type, { type Static, type TSchema } from 'typebox';
import { Compile } from 'typebox/compile';
import { WrennError } from '@wrenn/shared';
import type { Inbound } from './ws-channel.js';
import { findBadText } from '../http/input-guard.js';

const Size = Type.Integer({ minimum: 1, maximum: 10_000 });
const Envs = Type.Record(Type.String(), Type.String());

export const AuthMessage = Type.Object(
  { type: Type.Literal('auth'), api_key: Type.Optional(Type.String()), token: Type.Optional(Type.String()) },
  { additionalProperties: false },
);

export const PtyStartMessage = Type.Object(
  {
    type: Type.Literal('start'),
    cmd: Type.Optional(Type.String({ minLength: 1 })),
    args: Type.Optional(Type.Array(Type.String())),
    cols: Size,
    rows: Size,
    envs: Type.Optional(Envs),
    cwd: Type.Optional(Type.String({ minLength: 1 })),
    user: Type.Optional(Type.String({ minLength: 1 })),
  },
  { additionalProperties: false },
);
export const PtyConnectMessage = Type.Object({ type: Type.Literal('connect'), tag: Type.String({ minLength: 1, maxLength: 256 }) }, { additionalProperties: false });
export const PtyInputMessage = Type.Object(
  { type: Type.Literal('input'), data: Type.String({ pattern: '^[A-Za-z0-9+/]*={0,2}$' }) },
  { additionalProperties: false },
);
export const PtyResizeMessage = Type.Object({ type: Type.Literal('resize'), cols: Size, rows: Size }, { additionalProperties: false });
export const PtyKillMessage = Type.Object({ type: Type.Literal('kill') }, { additionalProperties: false });

export const ExecStartMessage = Type.Object(
  {
    type: Type.Literal('start'),
    cmd: Type.String({ minLength: 1 }),
    args: Type.Optional(Type.Array(Type.String())),
    envs: Type.Optional(Envs),
    cwd: Type.Optional(Type.String({ minLength: 1 })),
  },
  { additionalProperties: false },
);
export const ExecStopMessage = Type.Object({ type: Type.Literal('stop') }, { additionalProperties: false });

export type AuthMessage = Static<typeof AuthMessage>;
export type PtyStartMessage = Static<typeof PtyStartMessage>;
export type PtyConnectMessage = Static<typeof PtyConnectMessage>;
export type PtyResizeMessage = Static<typeof PtyResizeMessage>;
export type ExecStartMessage = Static<typeof ExecStartMessage>;

const validators = new WeakMap<TSchema, ReturnType<typeof Compile>>();

/** The message as `schema`'s type, or an invalid_argument error naming what is wrong. */
export function expectMessage<S extends TSchema>(m: Inbound, schema: S): Static<S> {
  if ('invalid' in m) throw new WrennError('invalid_argument', m.invalid);
  let v = validators.get(schema);
  if (!v) {
    v = Compile(schema);
    validators.set(schema, v);
  }
  const type = m.value.type;
  if (!v.Check(m.value)) {
    const first = v.Errors(m.value)[0];
    const where = first?.instancePath ? ` at ${first.instancePath}` : '';
    throw new WrennError('invalid_argument', `invalid "${type}" message${where}: ${first?.message ?? 'does not match the protocol'}`);
  }
  // Like every HTTP input (http/input-guard.ts): no NUL, no lone surrogate, anywhere.
  const bad = findBadText(m.value, '');
  if (bad) throw new WrennError('invalid_argument', `invalid "${type}" message: ${bad.path ? `${bad.path} ` : ''}${bad.problem}`);
  return m.value as Static<S>;
}

/** Whether `m` is a message of type `type` (before validation). */
export function isType(m: Inbound, type: string): boolean {
  return 'value' in m && m.value.type === type;
}
