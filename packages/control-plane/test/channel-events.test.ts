/**
 * Notification events from a real capsule's life (real agent, runc, CRIU): create, pause,
 * resume, snapshot create/delete, its host going down and coming back (liveness and the
 * reconciler driven by hand), destroy; each arrives at the team's signed webhook, in order,
 * once; a channel subscribed to one event gets only that one; another team's channel gets
 * nothing.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { sql } from 'kysely';
import { startControlPlane, seedTeam, type SeededTeam, type TestControlPlane } from './harness.js';
import { FORMATS, Receiver } from './channel-receivers.js';
import { markStaleHosts } from '../src/domain/hosts/liveness.js';
import { recordHeartbeat } from '../src/domain/hosts/agent-session.js';
import { reconcileOnce } from '../src/domain/hosts/reconcile.js';

const ALL_EVENTS = ['capsule.created', 'capsule.running', 'capsule.paused', 'capsule.destroyed', 'template.snapshot.created', 'template.snapshot.deleted', 'host.up', 'host.down'];

describe('notification events from a capsule lifecycle', () => {
  let t: TestControlPlane;
  let team: SeededTeam;
  let other: SeededTeam;
  let hook: Receiver;
  let otherHook: Receiver;
  let slack: Receiver;
  let secret = '';
  let capsuleId = '';
  let seen = 0;

  /** The next `events` at the team's webhook, checked (signature, team, nothing extra between). */
  async function expectEvents(events: string[], resourceId: string): Promise<Array<Record<string, any>>> {
    const got = (await hook.waitFor((g) => g.length >= seen + events.length)).slice(seen, seen + events.length);
    seen += events.length;
    const bodies = got.map((g) => {
      const ts = String(g.headers['x-wrenn-timestamp']);
      assert.equal(g.headers['x-wrenn-signature'], `sha256=${createHmac('sha256', secret).update(`${ts}.${g.raw}`).digest('hex')}`);
      assert.equal(g.problem, '');
      return g.body as Record<string, any>;
    });
    assert.deepEqual(
      bodies.map((b) => b.event),
      events,
    );
    for (const b of bodies) {
      assert.equal(b.team_id, team.teamId);
      assert.equal(b.resource.id, resourceId);
    }
    return bodies;
  }

  before(async () => {
    hook = await new Receiver(FORMATS.webhook!('/hook')).start();
    otherHook = await new Receiver(FORMATS.webhook!('/other')).start();
    slack = await new Receiver(FORMATS.slack!('/slack')).start();
    t = await startControlPlane({ withAgent: true, env: { WRENN_CHANNEL_ALLOW_PRIVATE: 'true', WRENN_NOTIFY_INTERVAL_MS: '100' } });
    team = await seedTeam(t.cp);
    other = await seedTeam(t.cp);
    const ch = await t.api('POST', '/v1/channels', { auth: team.jwt, body: { name: 'all', provider: 'webhook', config: { url: `${hook.url}/hook` }, events: ALL_EVENTS } });
    assert.equal(ch.status, 201, JSON.stringify(ch.body));
    secret = ch.body.secret;
    const paused = await t.api('POST', '/v1/channels', { auth: team.jwt, body: { name: 'pauses', provider: 'slack', config: { webhook_url: `${slack.url}/slack` }, events: ['capsule.paused'] } });
    assert.equal(paused.status, 201);
    const theirs = await t.api('POST', '/v1/channels', { auth: other.jwt, body: { name: 'all', provider: 'webhook', config: { url: `${otherHook.url}/other` }, events: ALL_EVENTS } });
    assert.equal(theirs.status, 201);
  });

  after(async () => {
    if (capsuleId) await t?.api('DELETE', `/v1/capsules/${capsuleId}`, { auth: team.apiKey }).catch(() => {});
    await t?.close();
    await hook?.close();
    await otherHook?.close();
    await slack?.close();
  });

  test('create: capsule.created then capsule.running, with the capsule (no address or token)', async () => {
    const created = await t.api('POST', '/v1/capsules', { auth: team.apiKey, body: { template: 'minimal', memory_mb: 256 } });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    capsuleId = created.body.id;
    const [c, r] = await expectEvents(['capsule.created', 'capsule.running'], capsuleId);
    assert.equal(c!.resource.type, 'capsule');
    assert.equal(r!.data.status, 'running');
    assert.equal(r!.data.template, 'minimal');
    assert.equal(r!.data.host_id, t.hostId);
    assert.ok(!('envd_token' in r!.data) && !('address' in r!.data));
  });

  test('pause then resume: capsule.paused (also to the channel subscribed to it alone), capsule.running', async () => {
    assert.equal((await t.api('POST', `/v1/capsules/${capsuleId}/pause`, { auth: team.apiKey })).status, 200);
    await expectEvents(['capsule.paused'], capsuleId);
    const [msg] = await slack.waitFor((g) => g.length >= 1);
    assert.equal(msg!.problem, '');
    assert.match(msg!.body.text, new RegExp(`${capsuleId}.*paused`));
    assert.equal((await t.api('POST', `/v1/capsules/${capsuleId}/resume`, { auth: team.apiKey })).status, 200);
    await expectEvents(['capsule.running'], capsuleId);
  });

  test('snapshot create and delete: template.snapshot.created / deleted', async () => {
    const name = `snap-ev-${process.pid}`;
    const s = await t.api('POST', '/v1/snapshots', { auth: team.apiKey, body: { sandbox_id: capsuleId, name } });
    assert.equal(s.status, 201, JSON.stringify(s.body));
    const [created] = await expectEvents(['template.snapshot.created'], name);
    assert.equal(created!.data.capsule_id, capsuleId);
    assert.equal((await t.api('DELETE', `/v1/snapshots/${name}`, { auth: team.apiKey })).status, 204);
    await expectEvents(['template.snapshot.deleted'], name);
  });

  test('its host stops heartbeating: host.down; heartbeats again: host.up; the reconciler finds the capsule: capsule.running', async () => {
    await t.cp.ctx.db.updateTable('hosts').set({ last_heartbeat_at: sql`now() - interval '1 hour'` as never }).where('id', '=', t.hostId!).execute();
    assert.deepEqual((await markStaleHosts(t.cp.ctx)).hostsDown, [t.hostId]);
    await expectEvents(['host.down'], t.hostId!);
    const health = await t.agent!.client.health({});
    await recordHeartbeat(t.cp.ctx, t.hostId!, { capsules: health.capsules, memory_free_bytes: Number(health.memoryFreeBytes), disk_free_bytes: Number(health.diskFreeBytes) });
    // A second heartbeat is not a second host.up.
    await recordHeartbeat(t.cp.ctx, t.hostId!, { capsules: health.capsules, memory_free_bytes: Number(health.memoryFreeBytes), disk_free_bytes: Number(health.diskFreeBytes) });
    await expectEvents(['host.up'], t.hostId!);
    await reconcileOnce(t.cp.ctx);
    assert.equal((await t.api('GET', `/v1/capsules/${capsuleId}`, { auth: team.apiKey })).body.status, 'running');
    await expectEvents(['capsule.running'], capsuleId);
  });

  test('destroy: capsule.destroyed; then nothing more, nothing twice, and nothing to the other team', async () => {
    const del = await t.api('DELETE', `/v1/capsules/${capsuleId}`, { auth: team.apiKey });
    assert.ok([200, 204].includes(del.status), JSON.stringify(del.body));
    await expectEvents(['capsule.destroyed'], capsuleId);
    await new Promise((r) => setTimeout(r, 500)); // room for a stray or duplicate event to arrive
    assert.equal(hook.got.length, seen, JSON.stringify(hook.got.slice(seen).map((g) => g.body.event)));
    assert.equal(slack.got.length, 1, 'the pause-only channel got the pause only');
    assert.equal(otherHook.got.length, 0, "another team's channel heard nothing");
    const view = (await t.api('GET', '/v1/channels', { auth: team.jwt })).body.find((c: { name: string }) => c.name === 'all');
    assert.ok(view.last_delivery_at);
    assert.equal(view.failure_count, 0);
  });
});
