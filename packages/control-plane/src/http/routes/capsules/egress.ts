/**
 * PUT /capsules/{id}/egress (extension): replace what a capsule may reach outside its host.
 */
import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import type { ControlPlaneContext } from '../../../context.js';
import { setCapsuleEgress } from '../../../domain/capsules/egress.js';
import { teamOf } from '../../plugins/auth.js';
import { CommonErrors, IdParams, Strict, TAGS } from './schemas.js';

const Entry = Type.String({ minLength: 1, maxLength: 256, pattern: '^[^\\u0000]+$' });
const Egress = Type.Object(
  {
    internet: Type.Boolean({ description: 'false: nothing leaves the capsule, whatever the lists say' }),
    allow_out: Type.Array(Entry, { maxItems: 256, description: 'Exceptions to deny_out: IPv4 addresses, CIDRs or domain names (resolved by the host and kept fresh)' }),
    deny_out: Type.Array(Entry, { maxItems: 256, description: 'IPv4 addresses or CIDRs the capsule may not reach ("0.0.0.0/0": everything but allow_out)' }),
  },
  Strict,
);

export async function egressRoutes(app: FastifyInstance, ctx: ControlPlaneContext): Promise<void> {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  r.put(
    '/capsules/:id/egress',
    {
      schema: {
        tags: TAGS,
        summary: "Replace a capsule's egress rules",
        description:
          "At once on a running capsule (established connections included), from its resume on a paused one; kept across pause/resume and agent restarts. Private, loopback and other reserved ranges stay closed whatever allow_out says, unless the host's operator opened them (WRENN_EGRESS_ALLOW).",
        params: IdParams,
        body: Egress,
        response: { 200: Egress, ...CommonErrors },
      },
    },
    async (request) => setCapsuleEgress(ctx, teamOf(request), request.params.id, request.body),
  );
}
