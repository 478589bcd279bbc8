/**
 * Snapshot templates (docs/decisions.md#a4): `POST /snapshots` saves a running
 * capsule (memory + disk) as a team template, `GET /snapshots?type=base|snapshot`,
 * `DELETE /snapshots/{name}`. User JWT or API key; team-scoped.
 */
import type { FastifyInstance } from 'fastify';
import Type, { type Static } from 'typebox';
import type { ControlPlaneContext } from '../../context.js';
import { createSnapshot, deleteSnapshot, listSnapshots } from '../../domain/snapshots.js';
import { authScope, teamOf } from '../plugins/auth.js';

export const SnapshotSchema = Type.Object({
  name: Type.String(),
  type: Type.Union([Type.Literal('base'), Type.Literal('snapshot')]),
  vcpus: Type.Union([Type.Integer(), Type.Null()], { description: 'Of the capsule the snapshot was taken from (null for base templates)' }),
  memory_mb: Type.Union([Type.Integer(), Type.Null()], { description: 'Of the capsule the snapshot was taken from (null for base templates)' }),
  capsule_id: Type.Union([Type.String(), Type.Null()]),
  host_id: Type.Union([Type.String(), Type.Null()]),
  size_bytes: Type.Number(),
  memory_bytes: Type.Number(),
  base_template: Type.Union([Type.String(), Type.Null()]),
  default_user: Type.Union([Type.String(), Type.Null()]),
  created_at: Type.String({ format: 'date-time' }),
});

const CapsuleRef = Type.String({ minLength: 1, maxLength: 128, description: 'The running capsule to snapshot (cl-...)' });
const SnapshotName = Type.Optional(Type.String({ minLength: 1, maxLength: 63, description: 'Generated when omitted' }));
/** Wrenn's request names the capsule `sandbox_id`; `capsule_id` (0.1 SDKs of ours) is kept as an alias. */
const CreateBody = Type.Union([
  Type.Object({ sandbox_id: CapsuleRef, name: SnapshotName }, { additionalProperties: false }),
  Type.Object({ capsule_id: CapsuleRef, name: SnapshotName }, { additionalProperties: false, description: 'Extension: `capsule_id` for `sandbox_id`' }),
]);
const CreateQuery = Type.Object({ overwrite: Type.Optional(Type.Boolean({ default: false })) }, { additionalProperties: false });
const ListQuery = Type.Object({ type: Type.Optional(Type.Union([Type.Literal('base'), Type.Literal('snapshot')])) }, { additionalProperties: false });
const NameParams = Type.Object({ name: Type.String({ minLength: 1, maxLength: 63 }) });

export async function snapshotsRoutes(app: FastifyInstance, ctx: ControlPlaneContext): Promise<void> {
  await app.register(async (s) => {
    authScope(s, ctx, { allow: ['user', 'apiKey'] });

    s.post<{ Body: Static<typeof CreateBody>; Querystring: Static<typeof CreateQuery> }>(
      '/snapshots',
      { schema: { tags: ['snapshots'], body: CreateBody, querystring: CreateQuery, response: { 201: SnapshotSchema } } },
      async (request, reply) => {
        const snap = await createSnapshot(ctx, teamOf(request), {
          capsuleId: 'sandbox_id' in request.body ? request.body.sandbox_id : request.body.capsule_id,
          name: request.body.name,
          overwrite: request.query.overwrite ?? false,
        });
        return reply.code(201).send(snap);
      },
    );

    s.get<{ Querystring: Static<typeof ListQuery> }>(
      '/snapshots',
      { schema: { tags: ['snapshots'], querystring: ListQuery, response: { 200: Type.Array(SnapshotSchema) } } },
      async (request) => listSnapshots(ctx, teamOf(request), request.query.type),
    );

    s.delete<{ Params: Static<typeof NameParams> }>(
      '/snapshots/:name',
      { schema: { tags: ['snapshots'], params: NameParams, response: { 204: Type.Null() } } },
      async (request, reply) => {
        await deleteSnapshot(ctx, teamOf(request), request.params.name);
        return reply.code(204).send();
      },
    );
  });
}
