/**
 * E2B volumes: `POST /volumes` (201 VolumeAndToken), `GET /volumes`, `GET|DELETE
 * /volumes/{volumeID}` (the team's own; another team's is a 404). The content routes are
 * volumecontent.ts.
 */
import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import type { ControlPlaneContext } from '../../../context.js';
import { createVolume, deleteVolume, getVolume, listVolumes } from '../../../domain/e2b/volumes.js';
import { teamOf } from '../../plugins/auth.js';
import { Strict, TAGS } from './schemas.js';

/** E2B's NewVolume.name pattern. */
export const VolumeName = Type.String({ minLength: 1, maxLength: 128, pattern: '^[a-zA-Z0-9_-]+$' });
export const VolumeParams = Type.Object({ volumeID: Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9][A-Za-z0-9_.-]*$' }) }, Strict);

export async function volumeRoutes(app: FastifyInstance, ctx: ControlPlaneContext): Promise<void> {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();

  r.post('/volumes', { schema: { tags: TAGS, summary: 'Create a volume (E2B)', body: Type.Object({ name: VolumeName }, Strict) } }, async (request, reply) =>
    reply.code(201).send(await createVolume(ctx, teamOf(request), request.body.name)),
  );

  r.get('/volumes', { schema: { tags: TAGS, summary: "The team's volumes (E2B)" } }, async (request) => listVolumes(ctx, teamOf(request)));

  r.get('/volumes/:volumeID', { schema: { tags: TAGS, summary: 'One volume and its content token (E2B)', params: VolumeParams } }, async (request) =>
    getVolume(ctx, teamOf(request), request.params.volumeID),
  );

  r.delete('/volumes/:volumeID', { schema: { tags: TAGS, summary: 'Delete a volume and its files (E2B); 409 while a sandbox has it mounted', params: VolumeParams } }, async (request, reply) => {
    await deleteVolume(ctx, teamOf(request), request.params.volumeID);
    return reply.code(204).send();
  });
}
