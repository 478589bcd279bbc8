/**
 * The unmodified `e2b` SDK (2.51) against Wrenn: a sandbox's egress rules, enforced by the
 * host. `allowInternetAccess: false`, `network.allowOut` / `denyOut` by address, CIDR and
 * domain name (resolved at the host, kept fresh), `updateNetwork` on a running and a paused
 * sandbox, rules kept across pause/resume, and the host's own deny set never opened by a
 * sandbox's allow list. The native API's extension (PUT /v1/capsules/{id}/egress) changes the
 * same rules.
 *
 * The "internet" is three network namespaces this file makes, each behind a veth routed by
 * the host, with a TCP server greeting "hello": A and B are in WRENN_EGRESS_ALLOW (what an
 * operator would allow), C is not (a private range like any other, so always denied). The
 * host's resolver for allow-list names is a DNS server on 127.0.0.1 answering from a map the
 * tests change. No traffic leaves this machine.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket, type Socket } from 'node:dgram';
import { randomInt } from 'node:crypto';
import * as dnsPacket from 'dns-packet';
import { ALL_TRAFFIC, InvalidArgumentError, Sandbox, SandboxError, SandboxNotFoundError } from 'e2b';
import { startOutsideNetwork, startServerInNetns, type NsServer, type OutsideNetwork } from '@wrenn/host-agent/net-testing';
import { seedTeam } from './harness.js';
import { startE2bFixture, type E2bFixture } from './e2b-support.js';

const PORT = 8080;
const NAME = 'svc.wrenn.test';

interface TestDns {
  port: number;
  answers: Map<string, string>;
  close(): Promise<void>;
}

/** A DNS server on 127.0.0.1 answering A queries from `answers` (TTL 1 s), NXDOMAIN otherwise. */
async function startDns(): Promise<TestDns> {
  const answers = new Map<string, string>();
  const sock: Socket = createSocket('udp4');
  sock.on('message', (msg, from) => {
    let query: dnsPacket.Packet;
    try {
      query = dnsPacket.decode(msg);
    } catch {
      return;
    }
    const q = query.questions?.[0];
    const ip = q && q.type === 'A' ? answers.get(q.name.toLowerCase()) : undefined;
    const reply = dnsPacket.encode({
      type: 'response',
      id: query.id ?? 0,
      flags: dnsPacket.RECURSION_DESIRED | dnsPacket.RECURSION_AVAILABLE | (ip ? 0 : 3 /* NXDOMAIN */),
      questions: query.questions ?? [],
      answers: ip && q ? [{ type: 'A', name: q.name, ttl: 1, data: ip }] : [],
    });
    sock.send(reply, from.port, from.address);
  });
  await new Promise<void>((resolve) => sock.bind(0, '127.0.0.1', resolve));
  return { port: sock.address().port, answers, close: () => new Promise((r) => sock.close(() => r())) };
}

/** Which of `ips` the sandbox reaches (TCP connect + greeting), probed at once from inside it. */
async function reach(sbx: Sandbox, ips: string[]): Promise<Record<string, boolean>> {
  const probes = ips.map((ip) => `(timeout 2 bash -c 'exec 3<>/dev/tcp/${ip}/${PORT} && head -c5 <&3' 2>/dev/null | grep -q hello && echo "${ip} yes" || echo "${ip} no") &`);
  const r = await sbx.commands.run(`${probes.join('\n')}\nwait`, { timeoutMs: 20_000 });
  const out: Record<string, boolean> = {};
  for (const line of r.stdout.trim().split('\n')) {
    const [ip, verdict] = line.split(' ');
    out[ip!] = verdict === 'yes';
  }
  assert.deepEqual(Object.keys(out).sort(), [...ips].sort(), `every probe answered: ${r.stdout}`);
  return out;
}

async function until(what: string, fn: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await fn())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 300));
  }
}

describe('e2b SDK: egress rules', () => {
  let f: E2bFixture;
  let dns: TestDns;
  const nets: OutsideNetwork[] = [];
  const servers: NsServer[] = [];
  let A: string, B: string, C: string;

  before(async () => {
    dns = await startDns();
    // 10.<a>.<b>.128+ : never a test agent's pool (10.<100-199>.0.0/24, see the agent harness).
    const base = `10.${randomInt(200, 250)}.${randomInt(1, 256)}`;
    const tag = randomInt(1e5).toString(36);
    for (let k = 0; k < 3; k++) {
      const n = await startOutsideNetwork(base, k, `wrto${tag}${k}`);
      nets.push(n);
      servers.push(await startServerInNetns(n.netnsPath, PORT));
    }
    [A, B, C] = nets.map((n) => n.peerIp) as [string, string, string];
    f = await startE2bFixture({
      agentEnv: {
        WRENN_EGRESS_ALLOW: `${nets[0]!.cidr},${nets[1]!.cidr}`,
        WRENN_EGRESS_DNS: `127.0.0.1:${dns.port}`,
        WRENN_EGRESS_DNS_REFRESH_SEC: '1',
      },
    });
  });
  after(async () => {
    await f?.close();
    for (const s of servers) await s.close();
    for (const n of nets) await n.remove();
    await dns?.close();
  });

  test('by default a sandbox reaches what the host allows, never the private range the operator did not allow; allowInternetAccess: false reaches nothing', async () => {
    const open = f.track(await Sandbox.create({ timeoutMs: 60_000 }));
    assert.deepEqual(await reach(open, [A, B, C]), { [A]: true, [B]: true, [C]: false });
    const closed = f.track(await Sandbox.create({ timeoutMs: 60_000, allowInternetAccess: false }));
    assert.deepEqual(await reach(closed, [A, B, C]), { [A]: false, [B]: false, [C]: false });
    const info = await closed.getInfo();
    assert.equal(info.allowInternetAccess, false);
    await Promise.all([open.kill(), closed.kill()]);
  });

  test('allowOut wins over denyOut, and never over the host deny set; updateNetwork replaces the rules at once; pause/resume keeps them', async () => {
    const sbx = f.track(await Sandbox.create({ timeoutMs: 120_000, network: { denyOut: [ALL_TRAFFIC], allowOut: [A, C] } }));
    const { network } = await sbx.getInfo();
    assert.deepEqual([network?.allowOut, network?.denyOut], [[A, C], [ALL_TRAFFIC]]);
    assert.deepEqual(await reach(sbx, [A, B, C]), { [A]: true, [B]: false, [C]: false }, 'only A: C is allowed by the sandbox but denied by the host');

    await sbx.updateNetwork({ denyOut: [`${B}/32`] });
    assert.deepEqual(await reach(sbx, [A, B]), { [A]: true, [B]: false });
    await sbx.updateNetwork({ allowInternetAccess: false });
    assert.deepEqual(await reach(sbx, [A, B]), { [A]: false, [B]: false });
    assert.equal((await sbx.getInfo()).allowInternetAccess, false);
    // No internet but an allow list: only the list (E2B: allowInternetAccess false = deny 0.0.0.0/0).
    await sbx.updateNetwork({ allowInternetAccess: false, allowOut: [B] });
    assert.deepEqual(await reach(sbx, [A, B]), { [A]: false, [B]: true });

    // Paused, then updated while paused, then resumed: the update holds, and so does it after another round.
    await sbx.pause();
    await Sandbox.updateNetwork(sbx.sandboxId, { denyOut: [ALL_TRAFFIC], allowOut: [A] });
    const resumed = await Sandbox.connect(sbx.sandboxId);
    assert.deepEqual(await reach(resumed, [A, B]), { [A]: true, [B]: false });
    await resumed.pause();
    const again = await Sandbox.connect(sbx.sandboxId);
    assert.deepEqual(await reach(again, [A, B]), { [A]: true, [B]: false });
    assert.deepEqual((await again.getInfo()).network?.allowOut, [A]);

    await again.updateNetwork({});
    assert.deepEqual(await reach(again, [A, B, C]), { [A]: true, [B]: true, [C]: false });
    await again.kill();
  });

  test('a domain in allowOut is resolved at the host and kept fresh: a new answer is allowed within the refresh', async () => {
    dns.answers.set(NAME, A);
    const sbx = f.track(await Sandbox.create({ timeoutMs: 60_000, network: { denyOut: [ALL_TRAFFIC], allowOut: [NAME] } }));
    assert.deepEqual(await reach(sbx, [A, B]), { [A]: true, [B]: false });
    dns.answers.set(NAME, B);
    await until('the new address of the name to be allowed', async () => (await reach(sbx, [B]))[B] === true);
    // The name resolving to a range the host denies opens nothing.
    dns.answers.set(NAME, C);
    await sbx.updateNetwork({ denyOut: [ALL_TRAFFIC], allowOut: [NAME] });
    assert.equal((await reach(sbx, [C]))[C], false);
    await sbx.kill();
  });

  test('what Wrenn cannot enforce is refused with a clear error, and nothing is created or changed', async () => {
    const refused = async (p: Promise<unknown>, pattern: RegExp) =>
      assert.rejects(p, (err: unknown) => {
        assert.ok(err instanceof SandboxError || err instanceof InvalidArgumentError, String(err));
        assert.match((err as Error).message, pattern);
        return true;
      });
    const before = (await Sandbox.list().nextItems()).length;
    await refused(Sandbox.create({ timeoutMs: 60_000, network: { allowOut: ['*.example.com'] } }), /^400: .*wildcard/);
    await refused(Sandbox.create({ timeoutMs: 60_000, network: { denyOut: ['example.com'] } }), /^400: network\.denyOut: "example\.com"/);
    await refused(Sandbox.create({ timeoutMs: 60_000, network: { denyOut: ['10.0.0.1/8'] } }), /^400: network\.denyOut: "10\.0\.0\.1\/8"/);
    await refused(Sandbox.create({ timeoutMs: 60_000, network: { egressProxy: { address: 'proxy.example:1080' } } }), /^400: network egressProxy is not supported/);
    assert.equal((await Sandbox.list().nextItems()).length, before, 'no sandbox was left behind by a refused create');

    const sbx = f.track(await Sandbox.create({ timeoutMs: 60_000, network: { denyOut: [B] } }));
    await refused(sbx.updateNetwork({ allowOut: ['not a name'] }), /^400: network\.allowOut/);
    assert.deepEqual((await sbx.getInfo()).network?.denyOut, [B], 'a refused update changed nothing');
    assert.deepEqual(await reach(sbx, [A, B]), { [A]: true, [B]: false });

    // Another team's sandbox does not exist for it.
    const other = await seedTeam(f.t.cp);
    await assert.rejects(Sandbox.updateNetwork(sbx.sandboxId, { denyOut: [ALL_TRAFFIC] }, { apiKey: other.apiKey }), SandboxNotFoundError);
    assert.deepEqual(await reach(sbx, [A]), { [A]: true });
    await assert.rejects(Sandbox.updateNetwork('no-such-sandbox', {}), SandboxNotFoundError);
    await sbx.kill();
  });

  test('the native API extension PUT /v1/capsules/{id}/egress replaces the same rules, and the E2B API shows them', async () => {
    const sbx = f.track(await Sandbox.create({ timeoutMs: 60_000 }));
    const put = (body: unknown, auth = f.team.apiKey) => f.t.api('PUT', `/v1/capsules/${sbx.sandboxId}/egress`, { auth, body });
    const res = await put({ internet: true, deny_out: [ALL_TRAFFIC], allow_out: [B] });
    assert.equal(res.status, 200);
    assert.deepEqual(res.body, { internet: true, allow_out: [`${B}/32`], deny_out: [ALL_TRAFFIC] });
    assert.deepEqual(await reach(sbx, [A, B]), { [A]: false, [B]: true });
    assert.deepEqual((await sbx.getInfo()).network?.allowOut, [B]);
    const bad = await put({ internet: true, deny_out: ['example.com'], allow_out: [] });
    assert.equal(bad.status, 400);
    assert.match((bad.body as { error: { message: string } }).error.message, /deny_out|denyOut/);
    const other = await seedTeam(f.t.cp);
    assert.equal((await put({ internet: false, deny_out: [], allow_out: [] }, other.apiKey)).status, 404);
    assert.deepEqual(await reach(sbx, [B]), { [B]: true }, 'refused calls changed nothing');
    await sbx.kill();
  });
});
