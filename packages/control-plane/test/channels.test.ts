/**
 * Notification channels through the REST API against a real server and database, with a
 * receiver per provider on 127.0.0.1 checking that provider's request format: create, list,
 * get, patch, rotate, delete and test as the contract has them; config sealed in the
 * database and masked in answers; the signed webhook's signature; delivery from the outbox
 * retried after a 500 with the failure visible on the channel; replicas' claims never send a
 * row twice; another team never sees, changes or tests a channel (404).
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { startControlPlane, seedTeam, type SeededTeam, type TestControlPlane } from './harness.js';
import { FORMATS, Receiver } from './channel-receivers.js';
import { emitEvent } from '../src/domain/channels/events.js';
import { deliverDue } from '../src/domain/channels/outbox.js';

const ALL_EVENTS = ['capsule.created', 'capsule.running', 'capsule.paused', 'capsule.destroyed', 'template.snapshot.created', 'template.snapshot.deleted', 'host.up', 'host.down'];

function verify(secret: string, headers: Record<string, unknown>, raw: string): boolean {
  const ts = String(headers['x-wrenn-timestamp']);
  const expected = `sha256=${createHmac('sha256', secret).update(`${ts}.${raw}`).digest('hex')}`;
  return headers['x-wrenn-signature'] === expected && Math.abs(Date.now() / 1000 - Number(ts)) < 300;
}

describe('notification channels API', () => {
  let t: TestControlPlane;
  let team: SeededTeam;
  let other: SeededTeam;
  const rx: Record<string, Receiver> = {};
  const paths: Record<string, string> = {
    slack: '/services/T000/B000/XXXXSLACKSECRET',
    discord: '/api/webhooks/123/DISCORDSECRETTOKEN',
    teams: '/webhookb2/TEAMSSECRET/IncomingWebhook/abc',
    googlechat: '/v1/spaces/AAAA/messages?key=k&token=GCHATSECRET',
    telegram: '/tg/bot123456:TELEGRAMSECRETTOKEN/sendMessage',
    matrix: '/mx',
    webhook: '/hooks/wrenn',
  };

  const configFor = (provider: string): Record<string, string> => {
    const base = rx[provider]!.url;
    if (provider === 'telegram') return { bot_token: '123456:TELEGRAMSECRETTOKEN', chat_id: '-10042' };
    if (provider === 'matrix') return { homeserver_url: `${base}/mx`, access_token: 'syt_MATRIXSECRETTOKEN', room_id: '!room:example.test' };
    if (provider === 'webhook') return { url: `${base}${paths.webhook!}`, secret: 'whsec_given_by_the_user_0123456789' };
    return { webhook_url: `${base}${paths[provider]}` };
  };

  before(async () => {
    for (const [provider, path] of Object.entries(paths)) rx[provider] = await new Receiver(FORMATS[provider]!(path)).start();
    t = await startControlPlane({
      env: {
        WRENN_CHANNEL_ALLOW_PRIVATE: 'true', // receivers are on 127.0.0.1
        WRENN_TELEGRAM_API_URL: `${rx.telegram!.url}/tg`,
        WRENN_NOTIFY_INTERVAL_MS: '100',
        WRENN_NOTIFY_RETRY_BASE_MS: '300',
        WRENN_NOTIFY_MAX_ATTEMPTS: '3',
      },
    });
    team = await seedTeam(t.cp);
    other = await seedTeam(t.cp);
  });

  after(async () => {
    await t?.close();
    for (const r of Object.values(rx)) await r.close();
  });

  test('POST /v1/channels/test sends a real message in each provider format; nothing is saved', async () => {
    for (const provider of Object.keys(paths)) {
      const before = rx[provider]!.got.length;
      const r = await t.api('POST', '/v1/channels/test', { auth: team.jwt, body: { provider, config: configFor(provider) } });
      assert.equal(r.status, 200, `${provider}: ${JSON.stringify(r.body)}`);
      assert.deepEqual(r.body, { status: 'ok' });
      const got = rx[provider]!.got.slice(before);
      assert.equal(got.length, 1, provider);
      assert.equal(got[0]!.problem, '', `${provider}: ${got[0]!.problem}`);
    }
    const m = rx.matrix!.got.at(-1)!;
    assert.equal(m.headers.authorization, 'Bearer syt_MATRIXSECRETTOKEN');
    assert.match(m.path, /\/rooms\/!room%3Aexample\.test\/send\//);
    assert.equal(rx.telegram!.got.at(-1)!.body.chat_id, '-10042');
    const w = rx.webhook!.got.at(-1)!;
    assert.ok(verify('whsec_given_by_the_user_0123456789', w.headers, w.raw), 'webhook test is signed');
    assert.equal(w.body.event, 'channel.test');
    assert.deepEqual((await t.api('GET', '/v1/channels', { auth: team.jwt })).body, []);
  });

  test('a test the receiver refuses is a 400 saying why; a config missing a field is a 400 before anything is sent', async () => {
    rx.slack!.failNext(1, 500);
    const refused = await t.api('POST', '/v1/channels/test', { auth: team.jwt, body: { provider: 'slack', config: configFor('slack') } });
    assert.equal(refused.status, 400);
    assert.equal(refused.body.error.code, 'invalid_request');
    assert.match(refused.body.error.message, /HTTP 500/);
    const sent = rx.telegram!.got.length;
    for (const body of [
      { provider: 'telegram', config: { bot_token: 'x' } },
      { provider: 'slack', config: { webhook_url: 'ftp://example.test/x' } },
      { provider: 'slack', config: { webhook_url: 'https://example.test/x', extra: 'y' } },
      { provider: 'carrier-pigeon', config: {} },
      { provider: 'slack', config: { webhook_url: 42 } },
    ]) {
      const r = await t.api('POST', '/v1/channels/test', { auth: team.jwt, body });
      assert.equal(r.status, 400, JSON.stringify(body));
      assert.equal(r.body.error.code, 'invalid_request');
    }
    assert.equal(rx.telegram!.got.length, sent);
  });

  test('create, get, list, patch, rotate, delete as the contract has them; config sealed at rest and masked in answers', async () => {
    const created = await t.api('POST', '/v1/channels', { auth: team.jwt, body: { name: 'ops', provider: 'webhook', config: { url: `${rx.webhook!.url}${paths.webhook!}` }, events: ['capsule.created', 'host.down'] } });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const ch = created.body;
    assert.match(ch.id, /^ch-/);
    assert.equal(ch.team_id, team.teamId);
    assert.equal(ch.provider, 'webhook');
    assert.deepEqual(ch.events, ['capsule.created', 'host.down']);
    assert.match(ch.secret, /^whsec_/, 'a generated secret is shown once');
    assert.equal(ch.config.url, `${rx.webhook!.url}/****`);
    assert.equal(ch.config.secret, `****${ch.secret.slice(-4)}`);

    const got = await t.api('GET', `/v1/channels/${ch.id}`, { auth: team.jwt });
    assert.equal(got.status, 200);
    assert.equal(got.body.secret, null, 'never again');
    assert.ok(!JSON.stringify(got.body).includes(paths.webhook!), 'the URL path is not shown');
    assert.equal(got.body.failure_count, 0);
    assert.equal(got.body.last_delivery_at, null);

    const row = await t.cp.ctx.db.selectFrom('notification_channels').selectAll().where('id', '=', ch.id).executeTakeFirstOrThrow();
    assert.ok(!row.config_sealed.includes('hooks') && !row.config_sealed.includes(ch.secret.slice(6)), 'sealed at rest');
    // Bound to its row: the sealed config copied to another channel does not open there.
    assert.throws(() => t.cp.ctx.secretBox.open(row.config_sealed, 'channel:ch-other'));

    const dup = await t.api('POST', '/v1/channels', { auth: team.jwt, body: { name: 'ops', provider: 'slack', config: configFor('slack'), events: [] } });
    assert.equal(dup.status, 409);
    assert.equal(dup.body.error.code, 'conflict');
    const badEvent = await t.api('POST', '/v1/channels', { auth: team.jwt, body: { name: 'x', provider: 'slack', config: configFor('slack'), events: ['capsule.exploded'] } });
    assert.equal(badEvent.status, 400);

    const patched = await t.api('PATCH', `/v1/channels/${ch.id}`, { auth: team.apiKey, body: { name: 'ops-renamed', events: ALL_EVENTS } });
    assert.equal(patched.status, 200, JSON.stringify(patched.body));
    assert.equal(patched.body.name, 'ops-renamed');
    assert.deepEqual(patched.body.events, ALL_EVENTS);
    assert.equal(patched.body.secret, null);
    assert.equal((await t.api('PATCH', `/v1/channels/${ch.id}`, { auth: team.jwt, body: { name: 'x' } })).status, 400, 'events required');

    const rotated = await t.api('PUT', `/v1/channels/${ch.id}/config`, { auth: team.jwt, body: { config: { url: `${rx.webhook!.url}/rotated`, secret: 'whsec_rotated_secret_value_0000' } } });
    assert.equal(rotated.status, 200, JSON.stringify(rotated.body));
    assert.equal(rotated.body.secret, null, 'a secret the caller chose is not echoed');
    assert.equal(rotated.body.config.secret, '****0000');
    const rotatedBad = await t.api('PUT', `/v1/channels/${ch.id}/config`, { auth: team.jwt, body: { config: { webhook_url: 'https://example.test' } } });
    assert.equal(rotatedBad.status, 400, 'fields of the channel provider');

    const list = await t.api('GET', '/v1/channels', { auth: team.apiKey });
    assert.deepEqual(list.body.map((c: { id: string }) => c.id), [ch.id]);

    assert.equal((await t.api('DELETE', `/v1/channels/${ch.id}`, { auth: team.jwt })).status, 204);
    assert.equal((await t.api('GET', `/v1/channels/${ch.id}`, { auth: team.jwt })).status, 404);
    assert.equal((await t.api('DELETE', `/v1/channels/${ch.id}`, { auth: team.jwt })).status, 404);
  });

  test('another team never sees, changes, tests or deletes a channel (404), and its events do not reach it', async () => {
    const ch = (await t.api('POST', '/v1/channels', { auth: team.jwt, body: { name: 'mine', provider: 'slack', config: configFor('slack'), events: ['capsule.created'] } })).body;
    for (const [method, path, body] of [
      ['GET', `/v1/channels/${ch.id}`, undefined],
      ['PATCH', `/v1/channels/${ch.id}`, { name: 'theirs', events: [] }],
      ['PUT', `/v1/channels/${ch.id}/config`, { config: configFor('slack') }],
      ['POST', `/v1/channels/${ch.id}/test`, undefined],
      ['DELETE', `/v1/channels/${ch.id}`, undefined],
    ] as const) {
      const r = await t.api(method, path, { auth: other.apiKey, ...(body ? { body } : {}) });
      assert.equal(r.status, 404, `${method} ${path}`);
      assert.equal(r.body.error.code, 'not_found');
    }
    assert.deepEqual((await t.api('GET', '/v1/channels', { auth: other.jwt })).body, []);
    // The owner's test of the saved channel goes out; the other team's did not.
    const before = rx.slack!.got.length;
    assert.equal((await t.api('POST', `/v1/channels/${ch.id}/test`, { auth: team.jwt })).status, 200);
    assert.equal(rx.slack!.got.length, before + 1);
    await emitEvent(t.cp.ctx, [other.teamId], 'capsule.created', { id: 'cl-elsewhere', type: 'capsule' });
    const queued = await t.cp.ctx.db.selectFrom('notification_outbox').select('id').where('channel_id', '=', ch.id).execute();
    assert.deepEqual(queued, [], "another team's event is not queued for this channel");
    assert.equal((await t.api('DELETE', `/v1/channels/${ch.id}`, { auth: team.jwt })).status, 204);
  });

  test('a webhook delivery answered 500 is retried with backoff, signed each time; the failure shows on the channel, then the success', async () => {
    const ch = (await t.api('POST', '/v1/channels', { auth: team.jwt, body: { name: 'retry', provider: 'webhook', config: { url: `${rx.webhook!.url}${paths.webhook!}` }, events: ['host.down'] } })).body;
    const start = rx.webhook!.got.length;
    rx.webhook!.failNext(1, 500);
    await emitEvent(t.cp.ctx, [team.teamId], 'host.down', { id: 'host-x', type: 'host' }, { status: 'down' });
    const got = (await rx.webhook!.waitFor((g) => g.length >= start + 2)).slice(start);
    assert.equal(got.length, 2);
    const [first, second] = got as [(typeof got)[0], (typeof got)[0]];
    for (const g of got) assert.ok(verify(ch.secret, g.headers, g.raw), 'signed with the channel secret over timestamp.body');
    assert.equal(first.headers['x-wrenn-delivery'], second.headers['x-wrenn-delivery'], 'the same delivery id on a retry');
    assert.equal(second.body.event, 'host.down');
    assert.equal(second.body.team_id, team.teamId);
    assert.deepEqual(second.body.resource, { id: 'host-x', type: 'host' });
    assert.equal(second.headers['x-wrenn-event'], 'host.down');
    // Backoff: the retry waited at least the base delay.
    const row = await t.cp.ctx.db.selectFrom('notification_outbox').selectAll().where('channel_id', '=', ch.id).executeTakeFirstOrThrow();
    assert.equal(row.attempts, 2);
    const seen = async () => (await t.api('GET', `/v1/channels/${ch.id}`, { auth: team.jwt })).body;
    let view = await seen();
    for (let i = 0; i < 50 && !view.last_delivery_at; i++) view = await new Promise((r) => setTimeout(r, 100)).then(seen);
    assert.match(view.last_error, /HTTP 500/);
    assert.ok(view.last_error_at);
    assert.ok(view.last_delivery_at);
    assert.equal(view.failure_count, 0, 'consecutive failures reset by the success');
    assert.ok(new Date(view.last_delivery_at).getTime() - new Date(view.last_error_at).getTime() >= 250, 'retried after the backoff');
    assert.equal((await t.api('DELETE', `/v1/channels/${ch.id}`, { auth: team.jwt })).status, 204);
  });

  test('a receiver that keeps failing: attempts run out, the row is given up, failures counted on the channel', async () => {
    const ch = (await t.api('POST', '/v1/channels', { auth: team.jwt, body: { name: 'down', provider: 'discord', config: configFor('discord'), events: ['host.up'] } })).body;
    rx.discord!.failNext(3, 503);
    const start = rx.discord!.got.length;
    await emitEvent(t.cp.ctx, [team.teamId], 'host.up', { id: 'host-y', type: 'host' });
    await rx.discord!.waitFor((g) => g.length >= start + 3);
    let row = await t.cp.ctx.db.selectFrom('notification_outbox').selectAll().where('channel_id', '=', ch.id).executeTakeFirstOrThrow();
    for (let i = 0; i < 50 && !row.failed_at; i++) {
      await new Promise((r) => setTimeout(r, 100));
      row = await t.cp.ctx.db.selectFrom('notification_outbox').selectAll().where('channel_id', '=', ch.id).executeTakeFirstOrThrow();
    }
    assert.ok(row.failed_at, 'given up after WRENN_NOTIFY_MAX_ATTEMPTS');
    assert.equal(row.attempts, 3);
    assert.equal(rx.discord!.got.length, start + 3, 'no fourth attempt');
    const view = (await t.api('GET', `/v1/channels/${ch.id}`, { auth: team.jwt })).body;
    assert.equal(view.failure_count, 3);
    assert.match(view.last_error, /HTTP 503/);
    assert.equal((await t.api('DELETE', `/v1/channels/${ch.id}`, { auth: team.jwt })).status, 204);
  });

  test('concurrent outbox passes (as replicas run them) send each row once', async () => {
    const ch = (await t.api('POST', '/v1/channels', { auth: team.jwt, body: { name: 'burst', provider: 'webhook', config: { url: `${rx.webhook!.url}${paths.webhook!}` }, events: ['capsule.paused'] } })).body;
    const start = rx.webhook!.got.length;
    await Promise.all(Array.from({ length: 30 }, (_, i) => emitEvent(t.cp.ctx, [team.teamId], 'capsule.paused', { id: `cl-${i}`, type: 'capsule' })));
    await Promise.all([deliverDue(t.cp.ctx), deliverDue(t.cp.ctx), deliverDue(t.cp.ctx)]);
    const got = (await rx.webhook!.waitFor((g) => g.length >= start + 30)).slice(start);
    await new Promise((r) => setTimeout(r, 400)); // room for a duplicate to show up
    const ids = rx.webhook!.got.slice(start).map((g) => g.headers['x-wrenn-delivery']);
    assert.equal(got.length, 30);
    assert.equal(new Set(ids).size, ids.length, 'no delivery sent twice');
    assert.deepEqual(new Set(rx.webhook!.got.slice(start).map((g) => g.body.resource.id)), new Set(Array.from({ length: 30 }, (_, i) => `cl-${i}`)));
    assert.equal((await t.api('DELETE', `/v1/channels/${ch.id}`, { auth: team.jwt })).status, 204);
  });
});
