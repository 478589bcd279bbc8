/**
 * Notification channels (Wrenn's `/v1/channels`): a team's Slack, Discord, Teams, Google
 * Chat, Telegram, Matrix or signed-webhook destinations for capsule, snapshot and host
 * events (domain/channels). User JWT or API key; team-scoped (another team's channel is 404).
 */
import type { FastifyInstance } from 'fastify';
import Type, { type Static } from 'typebox';
import type { ControlPlaneContext } from '../../context.js';
import { createChannel, deleteChannel, getChannel, listChannels, rotateChannelConfig, testChannelConfig, testSavedChannel, updateChannel } from '../../domain/channels/channels.js';
import { CHANNEL_EVENTS, PROVIDERS } from '../../domain/channels/providers.js';
import { authScope, teamOf } from '../plugins/auth.js';
import { ErrorSchema } from './error-schema.js';

const ProviderSchema = Type.Union(PROVIDERS.map((p) => Type.Literal(p)));
const EventSchema = Type.Union(CHANNEL_EVENTS.map((e) => Type.Literal(e)));
const ConfigSchema = Type.Record(Type.String({ maxLength: 64 }), Type.String({ maxLength: 2048 }), {
  description:
    'Provider fields. discord/slack/teams/googlechat: {webhook_url}; telegram: {bot_token, chat_id}; matrix: {homeserver_url, access_token, room_id}; webhook: {url, secret?} (secret generated when omitted)',
});
const Name = Type.String({ minLength: 1, maxLength: 100, description: 'Unique within the team' });
const Events = Type.Array(EventSchema, { maxItems: CHANNEL_EVENTS.length * 2 });

export const ChannelSchema = Type.Object({
  id: Type.String(),
  team_id: Type.String(),
  name: Type.String(),
  provider: ProviderSchema,
  events: Type.Array(Type.String()),
  created_at: Type.String({ format: 'date-time' }),
  updated_at: Type.String({ format: 'date-time' }),
  secret: Type.Union([Type.String(), Type.Null()], { description: "Webhook secret: only in the answer that made it (create, or a config rotation that generated one)" }),
  config: Type.Record(Type.String(), Type.String(), { description: 'Extension: the provider config, secrets masked' }),
  last_delivery_at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()], { description: 'Extension: last successful delivery' }),
  last_error: Type.Union([Type.String(), Type.Null()], { description: 'Extension: why the last failed delivery failed' }),
  last_error_at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()], { description: 'Extension: when' }),
  failure_count: Type.Integer({ description: 'Extension: failed deliveries since the last success' }),
});

const CreateBody = Type.Object({ name: Name, provider: ProviderSchema, config: ConfigSchema, events: Events }, { additionalProperties: false });
const TestBody = Type.Object({ provider: ProviderSchema, config: ConfigSchema }, { additionalProperties: false });
const UpdateBody = Type.Object({ name: Name, events: Events }, { additionalProperties: false });
const RotateBody = Type.Object({ config: ConfigSchema }, { additionalProperties: false });
const IdParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 128 }) });
const Ok = Type.Object({ status: Type.Literal('ok') });

export async function channelsRoutes(app: FastifyInstance, ctx: ControlPlaneContext): Promise<void> {
  await app.register(async (s) => {
    authScope(s, ctx, { allow: ['user', 'apiKey'] });
    const tags = ['channels'];

    s.post<{ Body: Static<typeof CreateBody> }>('/channels', { schema: { tags, body: CreateBody, response: { 201: ChannelSchema, 400: ErrorSchema, 409: ErrorSchema } } }, async (request, reply) =>
      reply.code(201).send(await createChannel(ctx, teamOf(request), request.body)),
    );

    s.get('/channels', { schema: { tags, response: { 200: Type.Array(ChannelSchema) } } }, async (request) => listChannels(ctx, teamOf(request)));

    s.post<{ Body: Static<typeof TestBody> }>(
      '/channels/test',
      { schema: { tags, description: 'Sends a test notification with this provider and config, saving nothing.', body: TestBody, response: { 200: Ok, 400: ErrorSchema } } },
      async (request) => testChannelConfig(ctx, teamOf(request), request.body.provider, request.body.config),
    );

    s.get<{ Params: Static<typeof IdParams> }>('/channels/:id', { schema: { tags, params: IdParams, response: { 200: ChannelSchema, 404: ErrorSchema } } }, async (request) =>
      getChannel(ctx, teamOf(request), request.params.id),
    );

    s.patch<{ Params: Static<typeof IdParams>; Body: Static<typeof UpdateBody> }>(
      '/channels/:id',
      { schema: { tags, params: IdParams, body: UpdateBody, response: { 200: ChannelSchema, 400: ErrorSchema, 404: ErrorSchema, 409: ErrorSchema } } },
      async (request) => updateChannel(ctx, teamOf(request), request.params.id, request.body),
    );

    s.delete<{ Params: Static<typeof IdParams> }>('/channels/:id', { schema: { tags, params: IdParams, response: { 204: Type.Null(), 404: ErrorSchema } } }, async (request, reply) => {
      await deleteChannel(ctx, teamOf(request), request.params.id);
      return reply.code(204).send();
    });

    s.put<{ Params: Static<typeof IdParams>; Body: Static<typeof RotateBody> }>(
      '/channels/:id/config',
      { schema: { tags, description: "Replaces the channel's provider config entirely.", params: IdParams, body: RotateBody, response: { 200: ChannelSchema, 400: ErrorSchema, 404: ErrorSchema } } },
      async (request) => rotateChannelConfig(ctx, teamOf(request), request.params.id, request.body.config),
    );

    s.post<{ Params: Static<typeof IdParams> }>(
      '/channels/:id/test',
      { schema: { tags, description: 'Sends a test notification through a saved channel (its stored config).', params: IdParams, response: { 200: Ok, 400: ErrorSchema, 404: ErrorSchema } } },
      async (request) => testSavedChannel(ctx, teamOf(request), request.params.id),
    );
  });
}
