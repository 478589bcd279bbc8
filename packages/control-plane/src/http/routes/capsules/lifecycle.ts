/**
 * POST|GET /capsules, GET|DELETE /capsules/{id}, POST /capsules/{id}/ping|pause|resume.
 * A destroyed capsule keeps answering GET with status `stopped` (clients rely on it).
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import type { ControlPlaneContext } from '../../../context.js';
import type { Capsule } from '../../../db/schema.js';
import { getTeamCapsule } from '../../../domain/capsule-access.js';
import { httpErrorOf } from '../../errors.js';
import { publicCapacityError } from '../../../domain/scheduler.js';
import { createCapsule, destroyCapsule, nativeIdentity, pingCapsule, type Actor } from '../../../domain/capsules/lifecycle.js';
import { listCapsules, STOPPED_VISIBLE_HOURS } from '../../../domain/capsules/list.js';
import { pauseCapsule, resumeCapsule } from '../../../domain/capsules/pause.js';
import { teamOf } from '../../plugins/auth.js';
import { CapsuleSchema, CommonErrors, CreateCapsuleBody, ErrorSchema, IdParams, NoContent, Status, Strict, TAGS, capsuleView, hostIps } from './schemas.js';

function actorOf(request: FastifyRequest): Actor {
  const p = request.auth;
  const teamId = teamOf(request);
  if (p?.kind === 'apiKey') return { teamId, userId: p.userId, keyId: p.keyId };
  if (p?.kind === 'user') return { teamId, userId: p.userId };
  return { teamId };
}

export async function lifecycleRoutes(app: FastifyInstance, ctx: ControlPlaneContext): Promise<void> {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  const view = async (c: Capsule) => capsuleView(c, c.host_id ? (await hostIps(ctx.db)).get(c.host_id) : '');
  const identityOf = (template: string) => {
    const identity = nativeIdentity(template);
    return identity ? { identity } : {};
  };

  r.post(
    '/capsules',
    {
      schema: {
        tags: TAGS,
        summary: 'Create a capsule and wait until it runs',
        description:
          'Places the capsule on the least-loaded host and starts it. 503 host_at_capacity when no host can take it (the message says why); 404 template_not_found for an unknown template. On failure the capsule stays listed with status `error` and the reason.',
        body: CreateCapsuleBody,
        response: { 201: CapsuleSchema, ...CommonErrors },
      },
    },
    async (request, reply) => {
      const b = request.body;
      const capsule = await createCapsule(ctx, actorOf(request), {
        template: b.template,
        vcpus: b.vcpus,
        memoryMb: b.memory_mb,
        timeoutSec: b.timeout_sec,
        ...(b.disk_size_mb !== undefined ? { diskSizeMb: b.disk_size_mb } : {}),
        metadata: b.metadata ?? {},
        envs: b.envs ?? {},
        autoResume: b.auto_resume ?? false,
        ...(b.host_tags?.length ? { hostTags: b.host_tags } : {}),
        ...identityOf(b.template),
      }).catch((err: unknown) => {
        // Hosts' names, cores, memory and disk are for administrators only.
        const e = httpErrorOf(err);
        const admin = request.auth?.kind === 'user' && request.auth.isAdmin;
        throw e.code === 'host_at_capacity' && !admin ? publicCapacityError(e) : err;
      });
      return reply.code(201).send(await view(capsule));
    },
  );

  r.get(
    '/capsules',
    {
      schema: {
        tags: TAGS,
        summary: "The team's capsules, newest first",
        description: `Every capsule that is not stopped, and those stopped within the last ${STOPPED_VISIBLE_HOURS} hours. \`status\` filters (comma-separated list allowed, e.g. \`running,paused\`).`,
        querystring: Type.Object({ status: Type.Optional(Type.String({ maxLength: 200, pattern: '^[a-z]+(,[a-z]+)*$' })) }, Strict),
        response: { 200: Type.Array(CapsuleSchema), 400: ErrorSchema, 401: ErrorSchema },
      },
    },
    async (request) => {
      const statuses = request.query.status ? request.query.status.split(',') : undefined;
      const [capsules, ips] = await Promise.all([listCapsules(ctx.db, teamOf(request), statuses), hostIps(ctx.db)]);
      return capsules.map((c) => capsuleView(c, c.host_id ? ips.get(c.host_id) : ''));
    },
  );

  r.get(
    '/capsules/:id',
    { schema: { tags: TAGS, summary: 'One capsule (also after it was destroyed: status `stopped`)', params: IdParams, response: { 200: CapsuleSchema, 401: ErrorSchema, 404: ErrorSchema } } },
    async (request) => view(await getTeamCapsule(ctx, teamOf(request), request.params.id)),
  );

  r.delete(
    '/capsules/:id',
    {
      schema: {
        tags: TAGS,
        summary: 'Destroy a capsule (idempotent: a stopped capsule answers 204 again)',
        description: 'The capsule is removed from its host; its record stays, with status `stopped`.',
        params: IdParams,
        response: { 204: NoContent, ...CommonErrors },
      },
    },
    async (request, reply) => {
      await destroyCapsule(ctx, teamOf(request), request.params.id);
      return reply.code(204).send(null);
    },
  );

  r.post(
    '/capsules/:id/ping',
    {
      schema: {
        tags: TAGS,
        summary: "Check the capsule's agent and reset its inactivity timer",
        params: IdParams,
        response: { 200: Type.Object({ status: Status, healthy: Type.Boolean() }), ...CommonErrors },
      },
    },
    async (request) => pingCapsule(ctx, teamOf(request), request.params.id),
  );

  r.post(
    '/capsules/:id/pause',
    {
      schema: {
        tags: TAGS,
        summary: 'Pause a running capsule (snapshot, memory released); returns the capsule',
        description: 'Pausing a paused capsule returns it unchanged. 501 when the host agent cannot pause.',
        params: IdParams,
        response: { 200: CapsuleSchema, ...CommonErrors, 501: ErrorSchema },
      },
    },
    async (request) => view(await pauseCapsule(ctx, teamOf(request), request.params.id)),
  );

  r.post(
    '/capsules/:id/resume',
    {
      schema: {
        tags: TAGS,
        summary: 'Resume a paused capsule; returns the capsule',
        description: 'Resuming a running capsule returns it unchanged. 501 when the host agent cannot resume.',
        params: IdParams,
        response: { 200: CapsuleSchema, ...CommonErrors, 501: ErrorSchema },
      },
    },
    async (request) => view(await resumeCapsule(ctx, teamOf(request), request.params.id)),
  );
}
