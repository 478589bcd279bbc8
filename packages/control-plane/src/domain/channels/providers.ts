/**
 * What each notification provider needs in its config, how the config is shown (masked),
 * and the HTTP request one event becomes for it: Slack/Discord/Teams/Google Chat incoming
 * webhooks, Telegram's bot `sendMessage`, a Matrix room message, or our own signed webhook.
 */
import { createHmac, randomBytes } from 'node:crypto';
import { WrennError } from '@wrenn/shared';

export const PROVIDERS = ['discord', 'slack', 'teams', 'googlechat', 'telegram', 'matrix', 'webhook'] as const;
export type Provider = (typeof PROVIDERS)[number];

export const CHANNEL_EVENTS = [
  'capsule.created',
  'capsule.running',
  'capsule.paused',
  'capsule.destroyed',
  'template.snapshot.created',
  'template.snapshot.deleted',
  'host.up',
  'host.down',
] as const;
export type ChannelEvent = (typeof CHANNEL_EVENTS)[number];

export type ProviderConfig = Record<string, string>;

interface FieldSpec {
  /** A URL the control plane sends to (checked: http(s), and against private ranges when sent). */
  url?: boolean;
  /** Shown masked (tokens, URLs whose path is the credential). */
  secret: boolean;
  optional?: boolean;
}

const FIELDS: Record<Provider, Record<string, FieldSpec>> = {
  discord: { webhook_url: { url: true, secret: true } },
  slack: { webhook_url: { url: true, secret: true } },
  teams: { webhook_url: { url: true, secret: true } },
  googlechat: { webhook_url: { url: true, secret: true } },
  telegram: { bot_token: { secret: true }, chat_id: { secret: false } },
  matrix: { homeserver_url: { url: true, secret: false }, access_token: { secret: true }, room_id: { secret: false } },
  webhook: { url: { url: true, secret: true }, secret: { secret: true, optional: true } },
};

/**
 * The config as it will be stored: exactly the provider's fields, each a non-empty string
 * (URLs http or https). A webhook without a secret gets a generated one (`generatedSecret`).
 */
export function normaliseConfig(provider: Provider, config: ProviderConfig): { config: ProviderConfig; generatedSecret?: string } {
  const spec = FIELDS[provider];
  const unknown = Object.keys(config).filter((k) => !(k in spec));
  if (unknown.length) throw new WrennError('invalid_argument', `config of a ${provider} channel has no field ${unknown.map((k) => JSON.stringify(k)).join(', ')}: it takes ${Object.keys(spec).join(', ')}`);
  const out: ProviderConfig = {};
  for (const [field, f] of Object.entries(spec)) {
    const value = config[field];
    if (value === undefined || value === '') {
      if (f.optional) continue;
      throw new WrennError('invalid_argument', `config of a ${provider} channel needs ${field}`);
    }
    if (value.length > 2048) throw new WrennError('invalid_argument', `config.${field} is longer than 2048 characters`);
    if (f.url) checkUrl(field, value);
    out[field] = value;
  }
  if (provider === 'webhook' && !out.secret) {
    const generated = `whsec_${randomBytes(24).toString('base64url')}`;
    out.secret = generated;
    return { config: out, generatedSecret: generated };
  }
  return { config: out };
}

function checkUrl(field: string, value: string): void {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new WrennError('invalid_argument', `config.${field} is not a URL`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new WrennError('invalid_argument', `config.${field} must be an http or https URL`);
  if (url.username || url.password) throw new WrennError('invalid_argument', `config.${field} must not carry credentials in the URL`);
}

/** The config as the API shows it: secrets reduced to a hint (a URL's origin, a token's last 4 characters). */
export function maskConfig(provider: Provider, config: ProviderConfig): ProviderConfig {
  const out: ProviderConfig = {};
  for (const [field, value] of Object.entries(config)) {
    const f = FIELDS[provider][field];
    if (!f?.secret) out[field] = value;
    else if (f.url) out[field] = `${safeOrigin(value)}/****`;
    else out[field] = value.length > 12 ? `****${value.slice(-4)}` : '****';
  }
  return out;
}

function safeOrigin(value: string): string {
  try {
    return new URL(value).origin;
  } catch {
    return '';
  }
}

/** What an event carries to every provider (the webhook body is exactly this). */
export interface EventPayload {
  id: string;
  event: ChannelEvent | 'channel.test';
  timestamp: number;
  team_id: string;
  resource: { id: string; type: 'capsule' | 'template' | 'host' | 'channel' };
  data: Record<string, unknown>;
}

/** One line a person reads in a chat. */
export function messageText(p: EventPayload): string {
  if (p.event === 'channel.test') return 'Wrenn: test notification. This channel is set up.';
  const what = p.resource.type === 'template' ? 'snapshot' : p.resource.type;
  const state = p.event.split('.').pop();
  const extra = typeof p.data.template === 'string' && p.resource.type === 'capsule' ? ` (template ${p.data.template})` : '';
  return `Wrenn: ${what} ${p.resource.id}${extra} ${state === 'up' || state === 'down' ? `is ${state}` : state} [${p.event}]`;
}

export interface OutgoingRequest {
  method: 'POST' | 'PUT';
  url: string;
  headers: Record<string, string>;
  body: string;
}

export interface RequestOptions {
  /** Telegram Bot API base (WRENN_TELEGRAM_API_URL). */
  telegramApiUrl: string;
  /** Idempotency key of this delivery (the outbox row id): Matrix's transaction id, the webhook's delivery id. */
  deliveryId: string;
  /** Unix seconds, signed into webhook bodies. */
  now: number;
}

/** The request that delivers `payload` through a channel of `provider` with `config`. */
export function buildRequest(provider: Provider, config: ProviderConfig, payload: EventPayload, opts: RequestOptions): OutgoingRequest {
  const text = messageText(payload);
  const json = { 'content-type': 'application/json' };
  switch (provider) {
    case 'slack':
      return { method: 'POST', url: config.webhook_url!, headers: json, body: JSON.stringify({ text }) };
    case 'googlechat':
      return { method: 'POST', url: config.webhook_url!, headers: { 'content-type': 'application/json; charset=UTF-8' }, body: JSON.stringify({ text }) };
    case 'discord':
      return {
        method: 'POST',
        url: config.webhook_url!,
        headers: json,
        body: JSON.stringify({
          content: text,
          embeds: [{ title: payload.event, description: `${payload.resource.type} ${payload.resource.id}`, timestamp: new Date(payload.timestamp * 1000).toISOString() }],
          allowed_mentions: { parse: [] },
        }),
      };
    case 'teams':
      return {
        method: 'POST',
        url: config.webhook_url!,
        headers: json,
        body: JSON.stringify({ '@type': 'MessageCard', '@context': 'https://schema.org/extensions', summary: text, title: payload.event, text }),
      };
    case 'telegram':
      return {
        method: 'POST',
        url: `${opts.telegramApiUrl.replace(/\/+$/, '')}/bot${config.bot_token}/sendMessage`,
        headers: json,
        body: JSON.stringify({ chat_id: config.chat_id, text, disable_web_page_preview: true }),
      };
    case 'matrix':
      return {
        method: 'PUT',
        url: `${config.homeserver_url!.replace(/\/+$/, '')}/_matrix/client/v3/rooms/${encodeURIComponent(config.room_id!)}/send/m.room.message/${encodeURIComponent(opts.deliveryId)}`,
        headers: { ...json, authorization: `Bearer ${config.access_token}` },
        body: JSON.stringify({ msgtype: 'm.text', body: text }),
      };
    case 'webhook': {
      const body = JSON.stringify(payload);
      return {
        method: 'POST',
        url: config.url!,
        headers: {
          ...json,
          'x-wrenn-event': payload.event,
          'x-wrenn-delivery': opts.deliveryId,
          'x-wrenn-timestamp': String(opts.now),
          'x-wrenn-signature': signWebhook(config.secret!, opts.now, body),
        },
        body,
      };
    }
  }
}

/** `sha256=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>` (docs/notifications.md). */
export function signWebhook(secret: string, timestamp: number, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}
