/**
 * GET|POST /teams, GET|PATCH|DELETE /teams/{id}, GET|POST /teams/{id}/members,
 * PATCH|DELETE /teams/{id}/members/{user_id} (user token). A team you are not in is a 404.
 */
import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import type { ControlPlaneContext } from '../../../context.js';
import { addMember, changeRole, createTeam, deleteTeam, getTeam, listMembers, listTeams, removeMember, renameTeam } from '../../../domain/accounts/index.js';
import { authScope } from '../../plugins/auth.js';
import { userOf, USER_ONLY } from './principal.js';
import { Email, IdParams, MemberSchema, Name, NoContent, RoleSchema, Strict, TeamDetailSchema, TeamSchema } from './schemas.js';

const tags = ['teams'];
const security = USER_ONLY;
const TeamParams = IdParams('Team id (team-...)');
const MemberParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 128 }), user_id: Type.String({ minLength: 1, maxLength: 128 }) }, Strict);

export async function teamsRoutes(app: FastifyInstance, ctx: ControlPlaneContext): Promise<void> {
  await app.register(async (s) => {
    authScope(s, ctx, { allow: ['user'] });
    const r = s.withTypeProvider<TypeBoxTypeProvider>();

    r.get('/teams', { schema: { tags, security, summary: 'Teams you belong to, with your role', response: { 200: Type.Array(TeamSchema) } } }, async (request) =>
      listTeams(ctx, userOf(request).userId),
    );

    r.post(
      '/teams',
      { schema: { tags, security, summary: 'Create a team (you are its owner)', body: Type.Object({ name: Name }, Strict), response: { 201: TeamSchema } } },
      async (request, reply) => reply.code(201).send(await createTeam(ctx, userOf(request).userId, request.body.name)),
    );

    r.get(
      '/teams/:id',
      {
        schema: {
          tags,
          security,
          summary: 'A team you belong to, with its members',
          description: "Wrenn's TeamDetail (`team`, `members`); the team's own fields at the top level, your role and member_count are extensions.",
          params: TeamParams,
          response: { 200: TeamDetailSchema },
        },
      },
      async (request) => {
        const { userId } = userOf(request);
        const team = await getTeam(ctx, userId, request.params.id);
        const members = await listMembers(ctx, userId, request.params.id);
        return { ...team, team: { id: team.id, name: team.name, slug: team.slug, created_at: team.created_at }, members };
      },
    );

    r.patch(
      '/teams/:id',
      { schema: { tags, security, summary: 'Rename a team (owner or admin)', params: TeamParams, body: Type.Object({ name: Name }, Strict), response: { 200: TeamSchema } } },
      async (request) => renameTeam(ctx, userOf(request).userId, request.params.id, request.body.name),
    );

    r.delete(
      '/teams/:id',
      {
        schema: {
          tags,
          security,
          summary: 'Delete a team (owner only)',
          description: 'Refused (409) while the team has capsules that are not stopped, and for your only team.',
          params: TeamParams,
          response: { 204: NoContent },
        },
      },
      async (request, reply) => {
        await deleteTeam(ctx, userOf(request).userId, request.params.id);
        return reply.code(204).send(null);
      },
    );

    r.get(
      '/teams/:id/members',
      { schema: { tags, security, summary: "A team's members", params: TeamParams, response: { 200: Type.Array(MemberSchema) } } },
      async (request) => listMembers(ctx, userOf(request).userId, request.params.id),
    );

    r.post(
      '/teams/:id/members',
      {
        schema: {
          tags,
          security,
          summary: 'Add an existing user to the team by email (owner or admin; only owners grant owner)',
          description: '`role` (default member) is an extension.',
          params: TeamParams,
          body: Type.Object({ email: Email, role: Type.Optional(RoleSchema) }, Strict),
          response: { 201: MemberSchema },
        },
      },
      async (request, reply) =>
        reply.code(201).send(await addMember(ctx, userOf(request).userId, request.params.id, { email: request.body.email, role: request.body.role ?? 'member' })),
    );

    r.patch(
      '/teams/:id/members/:user_id',
      {
        schema: {
          tags,
          security,
          summary: "Change a member's role (owner or admin; the last owner cannot be demoted)",
          params: MemberParams,
          body: Type.Object({ role: RoleSchema }, Strict),
          response: { 200: MemberSchema },
        },
      },
      async (request) => changeRole(ctx, userOf(request).userId, request.params.id, request.params.user_id, request.body.role),
    );

    r.delete(
      '/teams/:id/members/:user_id',
      {
        schema: {
          tags,
          security,
          summary: 'Remove a member (owner or admin), or leave the team yourself; never the last owner',
          params: MemberParams,
          response: { 204: NoContent },
        },
      },
      async (request, reply) => {
        await removeMember(ctx, userOf(request).userId, request.params.id, request.params.user_id);
        return reply.code(204).send(null);
      },
    );

    r.post(
      '/teams/:id/leave',
      {
        schema: {
          tags,
          security,
          summary: 'Leave a team you belong to (the last owner cannot: hand ownership on or delete the team)',
          params: TeamParams,
          response: { 204: NoContent },
        },
      },
      async (request, reply) => {
        const { userId } = userOf(request);
        await removeMember(ctx, userId, request.params.id, userId);
        return reply.code(204).send(null);
      },
    );
  });
}
