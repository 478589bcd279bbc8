/**
 * GET /admin/teams, PUT /admin/teams/{id}/byoc, DELETE /admin/teams/{id} and
 * GET /admin/audit-logs (every team's log): administrators only (user token).
 */
import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import type { ControlPlaneContext } from '../../../context.js';
import { adminDeleteTeam, adminListTeams, setTeamByoc } from '../../../domain/accounts/admin-teams.js';
import { AUDIT_ID_PATTERN, listAudit } from '../../../domain/audit.js';
import { authScope } from '../../plugins/auth.js';
import { USER_ONLY } from './principal.js';
import { AuditLogSchema, DateTime, IdParams, NoContent, Strict } from './schemas.js';

const tags = ['admin'];
const security = USER_ONLY;
const PER_PAGE = 100;

export async function adminTeamsRoutes(app: FastifyInstance, ctx: ControlPlaneContext): Promise<void> {
  await app.register(async (s) => {
    authScope(s, ctx, { allow: ['user'], admin: true });
    const r = s.withTypeProvider<TypeBoxTypeProvider>();

    r.get(
      '/admin/teams',
      {
        schema: {
          tags,
          security,
          summary: 'All teams, 100 a page, with member counts and the BYOC flag',
          querystring: Type.Object({ page: Type.Integer({ minimum: 1, maximum: 1_000_000, default: 1 }) }, Strict),
          response: {
            200: Type.Object({
              teams: Type.Array(Type.Object({ id: Type.String(), name: Type.String(), slug: Type.String(), is_byoc: Type.Boolean(), member_count: Type.Integer(), created_at: DateTime })),
              total: Type.Integer(),
              page: Type.Integer(),
              per_page: Type.Integer(),
              total_pages: Type.Integer(),
            }),
          },
        },
      },
      async (request) => {
        const page = request.query.page;
        const { teams, total } = await adminListTeams(ctx, { limit: PER_PAGE, offset: (page - 1) * PER_PAGE });
        return { teams, total, page, per_page: PER_PAGE, total_pages: Math.ceil(total / PER_PAGE) };
      },
    );

    r.put(
      '/admin/teams/:id/byoc',
      {
        schema: {
          tags,
          security,
          summary: "Enable or disable BYOC for a team (its owners and admins may then register the team's own hosts)",
          params: IdParams('Team id (team-...)'),
          body: Type.Object({ enabled: Type.Boolean() }, Strict),
          response: { 204: NoContent },
        },
      },
      async (request, reply) => {
        await setTeamByoc(ctx, request.params.id, request.body.enabled);
        return reply.code(204).send(null);
      },
    );

    r.delete(
      '/admin/teams/:id',
      {
        schema: {
          tags,
          security,
          summary: 'Delete a team, its keys and memberships (409 while it has capsules that are not stopped)',
          params: IdParams('Team id (team-...)'),
          response: { 204: NoContent },
        },
      },
      async (request, reply) => {
        await adminDeleteTeam(ctx, request.params.id);
        return reply.code(204).send(null);
      },
    );

    r.get(
      '/admin/audit-logs',
      {
        schema: {
          tags,
          security,
          summary: "Every team's audit log, newest first (page with `before`)",
          querystring: Type.Object(
            {
              limit: Type.Integer({ minimum: 1, maximum: 500, default: 50 }),
              before: Type.Optional(Type.String({ pattern: AUDIT_ID_PATTERN })),
              team_id: Type.Optional(Type.String({ minLength: 1, maxLength: 128, description: 'Only this team' })),
            },
            Strict,
          ),
          response: { 200: Type.Object({ audit_logs: Type.Array(AuditLogSchema), next_before: Type.Union([Type.String(), Type.Null()]) }) },
        },
      },
      async (request) => listAudit(ctx, request.query.team_id ?? null, { limit: request.query.limit, before: request.query.before }),
    );
  });
}
