/**
 * A team's notification channels: create, list, get, rename/resubscribe, replace the config,
 * delete, and test a config without saving it. The provider config is sealed at rest
 * (ctx.secretBox, bound to the channel id so a sealed value copied to another row does not
 * open) and only ever shown masked; a webhook's secret is shown once, when it is made.
 * Another team's channel reads as not found.
 */
import { sql } from 'kysely';
import { WrennError } from '@wrenn/shared';
import type { ControlPlaneContext } from '../../context.js';
import type { Selectable } from 'kysely';
import type { NotificationChannelsTable } from '../../db/schema.js';
import { newId } from '../ids.js';
import { buildRequest, maskConfig, normaliseConfig, type ChannelEvent, type EventPayload, type Provider, type ProviderConfig } from './providers.js';
import { DeliveryError, sendRequest } from './send.js';

type ChannelRow = Selectable<NotificationChannelsTable>;

export interface ChannelView {
  id: string;
  team_id: string;
  name: string;
  provider: Provider;
  events: string[];
  created_at: string;
  updated_at: string;
  secret: string | null;
  config: ProviderConfig;
  last_delivery_at: string | null;
  last_error: string | null;
  last_error_at: string | null;
  failure_count: number;
}

const boundTo = (id: string) => `channel:${id}`;

export function openConfig(ctx: Pick<ControlPlaneContext, 'secretBox'>, row: Pick<ChannelRow, 'id' | 'config_sealed'>): ProviderConfig {
  return JSON.parse(ctx.secretBox.open(row.config_sealed, boundTo(row.id))) as ProviderConfig;
}

function view(ctx: ControlPlaneContext, row: ChannelRow, secret: string | null = null): ChannelView {
  const provider = row.provider as Provider;
  return {
    id: row.id,
    team_id: row.team_id,
    name: row.name,
    provider,
    events: row.events,
    created_at: row.created_at.toISOString(),
    updated_at: row.updated_at.toISOString(),
    secret,
    config: maskConfig(provider, openConfig(ctx, row)),
    last_delivery_at: row.last_delivery_at?.toISOString() ?? null,
    last_error: row.last_error,
    last_error_at: row.last_error_at?.toISOString() ?? null,
    failure_count: row.failure_count,
  };
}

function checkName(name: string): string {
  const trimmed = name.trim();
  if (!trimmed) throw new WrennError('invalid_argument', 'name must not be empty');
  return trimmed;
}

function uniqueEvents(events: readonly ChannelEvent[]): ChannelEvent[] {
  return [...new Set(events)];
}

function isUniqueViolation(err: unknown): boolean {
  return (err as { code?: string })?.code === '23505';
}

export async function createChannel(
  ctx: ControlPlaneContext,
  teamId: string,
  input: { name: string; provider: Provider; config: ProviderConfig; events: ChannelEvent[] },
): Promise<ChannelView> {
  const name = checkName(input.name);
  const { config, generatedSecret } = normaliseConfig(input.provider, input.config);
  const id = newId('ch');
  try {
    const row = await ctx.db
      .insertInto('notification_channels')
      .values({ id, team_id: teamId, name, provider: input.provider, config_sealed: ctx.secretBox.seal(JSON.stringify(config), boundTo(id)), events: JSON.stringify(uniqueEvents(input.events)) })
      .returningAll()
      .executeTakeFirstOrThrow();
    return view(ctx, row, generatedSecret ?? (input.provider === 'webhook' ? (config.secret ?? null) : null));
  } catch (err) {
    if (isUniqueViolation(err)) throw new WrennError('conflict', `this team already has a channel named ${JSON.stringify(name)}`);
    throw err;
  }
}

export async function listChannels(ctx: ControlPlaneContext, teamId: string): Promise<ChannelView[]> {
  const rows = await ctx.db.selectFrom('notification_channels').selectAll().where('team_id', '=', teamId).orderBy('created_at', 'asc').orderBy('id').execute();
  return rows.map((r) => view(ctx, r));
}

async function teamChannel(ctx: ControlPlaneContext, teamId: string, id: string): Promise<ChannelRow> {
  const row = await ctx.db.selectFrom('notification_channels').selectAll().where('id', '=', id).where('team_id', '=', teamId).executeTakeFirst();
  if (!row) throw new WrennError('not_found', `channel ${id} not found`, { channelId: id });
  return row;
}

export async function getChannel(ctx: ControlPlaneContext, teamId: string, id: string): Promise<ChannelView> {
  return view(ctx, await teamChannel(ctx, teamId, id));
}

export async function updateChannel(ctx: ControlPlaneContext, teamId: string, id: string, input: { name: string; events: ChannelEvent[] }): Promise<ChannelView> {
  const name = checkName(input.name);
  try {
    const row = await ctx.db
      .updateTable('notification_channels')
      .set({ name, events: JSON.stringify(uniqueEvents(input.events)), updated_at: sql`now()` as never })
      .where('id', '=', id)
      .where('team_id', '=', teamId)
      .returningAll()
      .executeTakeFirst();
    if (!row) throw new WrennError('not_found', `channel ${id} not found`, { channelId: id });
    return view(ctx, row);
  } catch (err) {
    if (isUniqueViolation(err)) throw new WrennError('conflict', `this team already has a channel named ${JSON.stringify(name)}`);
    throw err;
  }
}

/** Replaces the whole config (a rotation); a webhook whose new config has no secret gets a new one, shown in this answer. */
export async function rotateChannelConfig(ctx: ControlPlaneContext, teamId: string, id: string, input: ProviderConfig): Promise<ChannelView> {
  const current = await teamChannel(ctx, teamId, id);
  const { config, generatedSecret } = normaliseConfig(current.provider as Provider, input);
  const row = await ctx.db
    .updateTable('notification_channels')
    .set({ config_sealed: ctx.secretBox.seal(JSON.stringify(config), boundTo(id)), updated_at: sql`now()` as never, last_error: null, last_error_at: null, failure_count: 0 })
    .where('id', '=', id)
    .where('team_id', '=', teamId)
    .returningAll()
    .executeTakeFirst();
  if (!row) throw new WrennError('not_found', `channel ${id} not found`, { channelId: id });
  return view(ctx, row, generatedSecret ?? null);
}

/** Deletes the channel and (cascade) what its outbox still held. */
export async function deleteChannel(ctx: ControlPlaneContext, teamId: string, id: string): Promise<void> {
  const res = await ctx.db.deleteFrom('notification_channels').where('id', '=', id).where('team_id', '=', teamId).executeTakeFirst();
  if (Number(res.numDeletedRows) === 0) throw new WrennError('not_found', `channel ${id} not found`, { channelId: id });
}

/** Sends a test message with a config that is not saved; a refusal by the receiver is a 400 saying why. */
export async function testChannelConfig(ctx: ControlPlaneContext, teamId: string, provider: Provider, input: ProviderConfig): Promise<{ status: 'ok' }> {
  return sendTest(ctx, teamId, provider, normaliseConfig(provider, input).config);
}

/** A test message through a saved channel, with its stored config (not recorded on the channel). */
export async function testSavedChannel(ctx: ControlPlaneContext, teamId: string, id: string): Promise<{ status: 'ok' }> {
  const row = await teamChannel(ctx, teamId, id);
  return sendTest(ctx, teamId, row.provider as Provider, openConfig(ctx, row));
}

async function sendTest(ctx: ControlPlaneContext, teamId: string, provider: Provider, config: ProviderConfig): Promise<{ status: 'ok' }> {
  const deliveryId = newId('evt');
  const now = Math.floor(Date.now() / 1000);
  const payload: EventPayload = { id: deliveryId, event: 'channel.test', timestamp: now, team_id: teamId, resource: { id: 'test', type: 'channel' }, data: {} };
  const n = ctx.config.notifications;
  try {
    await sendRequest(buildRequest(provider, config, payload, { telegramApiUrl: n.telegramApiUrl, deliveryId, now }), { allowPrivate: n.allowPrivate, timeoutMs: n.timeoutMs });
  } catch (err) {
    if (err instanceof DeliveryError) throw new WrennError('invalid_argument', `the test notification was not delivered: ${err.message}`);
    throw err;
  }
  return { status: 'ok' };
}
