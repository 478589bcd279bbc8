/**
 * Capsule isolation through the agent's nftables table, against the real kernel: fake
 * capsules (user + network namespace processes) plumbed by PID, a TCP server on the host,
 * and "outside world" namespaces routed by the host. Traffic only ever goes to 127.0.0.0/8,
 * host addresses, or addresses inside namespaces this test created; nothing here can leave
 * the machine. Every drop is checked both as a failed connection and as the nft counter of
 * the rule meant to drop it, so a test cannot pass by the packet being lost elsewhere.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, createConnection, type Server } from 'node:net';
import { networkInterfaces } from 'node:os';
import { readFileSync, writeFileSync } from 'node:fs';
import { silentLogger } from '@wrenn/shared';
import { run } from '../src/infra/exec.js';
import { AddressPool } from '../src/infra/net/address-pool.js';
import { NetworkManager } from '../src/infra/net/network-manager.js';
import type { NftDropCounters } from '../src/infra/net/nft-rules.js';
import type { NetworkSlot, PlumbOptions } from '../src/infra/net/network.js';
import {
  testNet,
  startFakeCapsule,
  startOutsideNetwork,
  startServerInNetns,
  probeFromNetns,
  hostLinksWithPrefix,
  type FakeCapsule,
  type OutsideNetwork,
  type NsServer,
} from './network-fixtures.js';

const ENVD_PORT = 49983;
const OUTSIDE_PORT = 8080;
const EGRESS: PlumbOptions = { egress: true, rateBytesPerSec: 200_000_000, burstBytes: 100_000_000 };
const NO_EGRESS: PlumbOptions = { ...EGRESS, egress: false };

interface Capsule {
  cap: FakeCapsule;
  slot: NetworkSlot;
  envd: NsServer;
}

describe('capsule isolation (nftables)', () => {
  const names = testNet();
  const pool = new AddressPool({ cidr: names.poolCidr, ifPrefix: names.ifPrefix });
  const releases: Array<() => Promise<unknown>> = [];
  let manager: NetworkManager;
  let outside: OutsideNetwork;
  let deniedOutside: OutsideNetwork;
  /** A private network nobody allowed: denied by default like any 10/8, 172.16/12, 192.168/16. */
  let privateOutside: OutsideNetwork;
  let privateServer: NsServer;
  let outsideServer: NsServer;
  let deniedServer: NsServer;
  let hostServer: Server;
  let hostPort: number;
  const hostConnections: string[] = [];
  let a: Capsule;
  let b: Capsule;
  let noEgress: Capsule;

  async function plumbedCapsule(opts: PlumbOptions): Promise<Capsule> {
    const cap = await startFakeCapsule();
    releases.push(cap.kill);
    const slot = pool.allocate();
    releases.push(() => manager.unplumb(slot));
    await manager.plumb(slot, cap.pid, opts);
    const envd = await startServerInNetns(cap.netnsPath, ENVD_PORT);
    releases.push(envd.close);
    return { cap, slot, envd };
  }

  function greeting(host: string, port: number): Promise<string> {
    return new Promise((resolve, reject) => {
      const s = createConnection({ host, port, timeout: 3000 });
      let data = '';
      s.on('data', (chunk) => (data += chunk.toString()));
      s.on('end', () => resolve(data));
      s.on('timeout', () => (s.destroy(), reject(new Error(`timeout connecting to ${host}:${port}`))));
      s.on('error', reject);
    });
  }

  async function countersDelta<T>(fn: () => Promise<T>): Promise<{ result: T; delta: Record<keyof NftDropCounters, number> }> {
    const before = await manager.dropCounters();
    const result = await fn();
    const after = await manager.dropCounters();
    const delta = {} as Record<keyof NftDropCounters, number>;
    for (const k of Object.keys(after) as Array<keyof NftDropCounters>) delta[k] = after[k].packets - before[k].packets;
    return { result, delta };
  }

  before(async () => {
    // Outside networks take the upper half of the test's /24 (the pool is the lower half).
    const outIf = (k: number) => `yo${process.pid}${k}`;
    outside = await startOutsideNetwork(names.outsideBase, 0, outIf(0));
    releases.push(outside.remove);
    deniedOutside = await startOutsideNetwork(names.outsideBase, 1, outIf(1));
    releases.push(deniedOutside.remove);
    outsideServer = await startServerInNetns(outside.netnsPath, OUTSIDE_PORT);
    releases.push(outsideServer.close);
    deniedServer = await startServerInNetns(deniedOutside.netnsPath, OUTSIDE_PORT);
    releases.push(deniedServer.close);
    privateOutside = await startOutsideNetwork(names.outsideBase, 2, outIf(2));
    releases.push(privateOutside.remove);
    privateServer = await startServerInNetns(privateOutside.netnsPath, OUTSIDE_PORT);
    releases.push(privateServer.close);

    hostServer = createServer((s) => {
      hostConnections.push(`${s.localAddress} from ${s.remoteAddress}`);
      s.on('error', () => {});
      s.end('hello\n');
    });
    await new Promise<void>((r) => hostServer.listen(0, '0.0.0.0', r));
    hostPort = (hostServer.address() as { port: number }).port;

    manager = await NetworkManager.open({
      logger: silentLogger(),
      pool,
      nftTable: names.table,
      enableIpForwarding: false, // never touch the host's global forwarding in tests
      extraDeniedCidrs: [deniedOutside.cidr],
      // The test's "outside" is a private address like every netns-local one: allowed the
      // way an operator allows a range (WRENN_EGRESS_ALLOW).
      allowedCidrs: [outside.cidr],
    });
    a = await plumbedCapsule(EGRESS);
    b = await plumbedCapsule(EGRESS);
    noEgress = await plumbedCapsule(NO_EGRESS);
  });

  after(async () => {
    for (const release of releases.reverse()) await release().catch(() => {});
    await new Promise((r) => hostServer?.close(r));
    await manager?.close().catch(() => {});
    for (const l of hostLinksWithPrefix(names.ifPrefix)) await run('ip', ['link', 'del', l], { allowFailure: true });
    await run('nft', ['delete', 'table', 'inet', names.table], { allowFailure: true });
  });

  test('the host reaches envd in a capsule, but the capsule reaches no host address on any port', async () => {
    assert.equal(await greeting(a.slot.guestIp, ENVD_PORT), 'hello\n');

    const hostAddresses = Object.values(networkInterfaces())
      .flat()
      .filter((i) => i?.family === 'IPv4' && !i.internal)
      .map((i) => i!.address);
    for (const own of [a.slot.hostIp, b.slot.hostIp, outside.hostIp]) assert.ok(hostAddresses.includes(own), own);
    const { result, delta } = await countersDelta(() =>
      probeFromNetns(a.cap.netnsPath, [{ host: '127.0.0.1', port: hostPort }, ...hostAddresses.map((host) => ({ host, port: hostPort }))]),
    );
    assert.equal(result[0], 'refused', '127.0.0.1 inside a capsule is its own loopback');
    assert.deepEqual(result.slice(1), hostAddresses.map(() => 'timeout'), `probed ${hostAddresses.join(', ')}`);
    assert.deepEqual(hostConnections, []);
    assert.ok(delta.to_host_dropped >= hostAddresses.length, `to_host_dropped +${delta.to_host_dropped}`);

    // Control: the same server is reachable from a namespace that is not a capsule.
    assert.deepEqual(await probeFromNetns(outside.netnsPath, [{ host: outside.hostIp, port: hostPort }]), ['connected']);
    assert.equal(hostConnections.length, 1);
  });

  test('a capsule cannot reach another capsule', async () => {
    const { result, delta } = await countersDelta(() =>
      probeFromNetns(a.cap.netnsPath, [
        { host: b.slot.guestIp, port: ENVD_PORT },
        { host: noEgress.slot.guestIp, port: ENVD_PORT },
      ]),
    );
    assert.deepEqual(result, ['timeout', 'timeout']);
    assert.ok(delta.cross_capsule_dropped >= 2, `cross_capsule_dropped +${delta.cross_capsule_dropped}`);
    assert.deepEqual([...b.envd.remotes, ...noEgress.envd.remotes].filter((r) => r !== b.slot.hostIp && r !== noEgress.slot.hostIp), []);
    // Control: b's server is up and reachable from the host.
    assert.equal(await greeting(b.slot.guestIp, ENVD_PORT), 'hello\n');
  });

  test('with egress a capsule reaches the outside through NAT, appearing as the host', async () => {
    const seen = outsideServer.remotes.length;
    assert.deepEqual(await probeFromNetns(a.cap.netnsPath, [{ host: outside.peerIp, port: OUTSIDE_PORT }]), ['connected']);
    await waitFor(() => outsideServer.remotes.length > seen);
    assert.deepEqual(outsideServer.remotes.slice(seen), [outside.hostIp], 'masqueraded to the host address of the outgoing link');
  });

  test('without egress nothing is forwarded, even when the kernel would forward', async () => {
    // Forwarding off on its veth already stops it; force it on to test the nft rule itself.
    writeFileSync(`/proc/sys/net/ipv4/conf/${noEgress.slot.hostIf}/forwarding`, '1');
    const seen = outsideServer.remotes.length;
    const { result, delta } = await countersDelta(() =>
      probeFromNetns(noEgress.cap.netnsPath, [{ host: outside.peerIp, port: OUTSIDE_PORT }]),
    );
    assert.deepEqual(result, ['timeout']);
    assert.equal(outsideServer.remotes.length, seen);
    assert.ok(delta.no_egress_dropped >= 1, `no_egress_dropped +${delta.no_egress_dropped}`);
  });

  test('denied destinations stay unreachable with egress', async () => {
    const { result, delta } = await countersDelta(() =>
      probeFromNetns(a.cap.netnsPath, [{ host: deniedOutside.peerIp, port: OUTSIDE_PORT }]),
    );
    assert.deepEqual(result, ['timeout']);
    assert.deepEqual(deniedServer.remotes, []);
    assert.ok(delta.denied_destination_dropped >= 1, `denied_destination_dropped +${delta.denied_destination_dropped}`);
    // Control: the host itself routes there fine.
    assert.equal(await greeting(deniedOutside.peerIp, OUTSIDE_PORT), 'hello\n');
  });

  test('private ranges are denied by default: a capsule with egress cannot reach an unlisted private network', async () => {
    const { result, delta } = await countersDelta(() => probeFromNetns(a.cap.netnsPath, [{ host: privateOutside.peerIp, port: OUTSIDE_PORT }]));
    assert.deepEqual(result, ['timeout']);
    assert.deepEqual(privateServer.remotes, []);
    assert.ok(delta.denied_destination_dropped >= 1, `denied_destination_dropped +${delta.denied_destination_dropped}`);
    // Control: the host itself routes there fine.
    assert.equal(await greeting(privateOutside.peerIp, OUTSIDE_PORT), 'hello\n');
  });

  test('the deny set covers every private, shared, link-local, loopback, multicast and reserved range, IPv4 and IPv6', async () => {
    const contains = async (set: string, addr: string) => (await run('nft', ['get', 'element', 'inet', names.table, set, `{ ${addr} }`], { allowFailure: true })).code === 0;
    const v4 = ['10.1.2.3', '172.20.0.1', '192.168.1.1', '100.100.100.100', '169.254.169.254', '127.0.0.53', '224.0.0.251', '255.255.255.255', '198.18.0.1', '0.1.2.3', '192.0.2.1'];
    for (const addr of v4) assert.ok(await contains('denied_destinations', addr), addr);
    const v6 = ['fd12:3456::1', 'fe80::1', 'ff02::1', '::1', '64:ff9b::a00:1', '2002:a00:1::1', '::ffff:10.0.0.1'];
    for (const addr of v6) assert.ok(await contains('denied_destinations6', addr), addr);
    // Control: public addresses are in neither set.
    assert.equal(await contains('denied_destinations', '8.8.8.8'), false);
    assert.equal(await contains('denied_destinations6', '2606:4700::1111'), false);
  });

  test("a capsule's own deny list, allow exceptions and allow_internet_access change on the running capsule", async () => {
    const c = await plumbedCapsule({ ...EGRESS, denyOut: [outside.peerIp] });
    const probe = () => probeFromNetns(c.cap.netnsPath, [{ host: outside.peerIp, port: OUTSIDE_PORT }]);
    let r = await countersDelta(probe);
    assert.deepEqual(r.result, ['timeout'], 'denied at plumb time');
    assert.ok(r.delta.capsule_policy_dropped >= 1, `capsule_policy_dropped +${r.delta.capsule_policy_dropped}`);
    // Another capsule with no policy is not affected.
    assert.deepEqual(await probeFromNetns(a.cap.netnsPath, [{ host: outside.peerIp, port: OUTSIDE_PORT }]), ['connected']);

    // Deny everything but one address: allow wins over deny.
    await manager.setEgressPolicy(c.slot, { allowInternet: true, denyOut: ['0.0.0.0/0'], allowOut: [outside.peerIp] });
    assert.deepEqual(await probe(), ['connected']);
    // An allow cannot open what the host denies.
    await manager.setEgressPolicy(c.slot, { allowInternet: true, denyOut: ['0.0.0.0/0'], allowOut: [privateOutside.cidr, outside.peerIp] });
    r = await countersDelta(() => probeFromNetns(c.cap.netnsPath, [{ host: privateOutside.peerIp, port: OUTSIDE_PORT }]));
    assert.deepEqual(r.result, ['timeout']);
    assert.ok(r.delta.denied_destination_dropped >= 1);
    // No internet at all.
    await manager.setEgressPolicy(c.slot, { allowInternet: false, denyOut: [], allowOut: [] });
    assert.equal(readFileSync(`/proc/sys/net/ipv4/conf/${c.slot.hostIf}/forwarding`, 'utf8').trim(), '0');
    writeFileSync(`/proc/sys/net/ipv4/conf/${c.slot.hostIf}/forwarding`, '1'); // test the nft rule itself
    r = await countersDelta(probe);
    assert.deepEqual(r.result, ['timeout']);
    assert.ok(r.delta.no_egress_dropped >= 1, `no_egress_dropped +${r.delta.no_egress_dropped}`);
    // Back to open; then unplumbing leaves no policy chain behind.
    await manager.setEgressPolicy(c.slot, { allowInternet: true, denyOut: [], allowOut: [] });
    assert.deepEqual(await probe(), ['connected']);
    await manager.setEgressPolicy(c.slot, { allowInternet: true, denyOut: ['192.0.2.0/24'], allowOut: [] });
    await manager.unplumb(c.slot);
    const { stdout } = await run('nft', ['list', 'table', 'inet', names.table]);
    assert.doesNotMatch(stdout, new RegExp(`chain cap_${c.slot.index}\\b`));
    assert.doesNotMatch(stdout, new RegExp(`${c.slot.guestIp.replace(/\./g, '\\.')} : jump`));
  });

  test('a bad CIDR in a policy is invalid_argument naming the field, and changes nothing', async () => {
    await assert.rejects(manager.setEgressPolicy(a.slot, { allowInternet: true, denyOut: ['10.0.0.1/8'], allowOut: [] }), /deny_out: "10\.0\.0\.1\/8"/);
    await assert.rejects(manager.setEgressPolicy(a.slot, { allowInternet: true, denyOut: [], allowOut: ['example.com'] }), /allow_out/);
    assert.deepEqual(await probeFromNetns(a.cap.netnsPath, [{ host: outside.peerIp, port: OUTSIDE_PORT }]), ['connected']);
  });

  test('a capsule that changes its address cannot send from it', async () => {
    // Capsule root may change its own addresses; the host accepts only the assigned one.
    const unused = pool.slot(pool.capacity - 1).guestIp;
    await run('nsenter', [`--net=${a.cap.netnsPath}`, 'ip', '-batch', '-'], {
      input: `addr add ${b.slot.guestIp}/32 dev eth0\naddr add ${unused}/32 dev eth0\n`,
    });
    const seen = outsideServer.remotes.length;
    const { result, delta } = await countersDelta(() =>
      probeFromNetns(a.cap.netnsPath, [
        { host: outside.peerIp, port: OUTSIDE_PORT, localAddress: b.slot.guestIp },
        { host: outside.peerIp, port: OUTSIDE_PORT, localAddress: unused },
        { host: b.slot.hostIp, port: hostPort, localAddress: b.slot.guestIp },
      ]),
    );
    assert.deepEqual(result, ['timeout', 'timeout', 'timeout']);
    assert.equal(outsideServer.remotes.length, seen);
    assert.ok(delta.spoofed_dropped >= 3, `spoofed_dropped +${delta.spoofed_dropped}`);
    // Control: from its own address the same capsule still gets out.
    assert.deepEqual(
      await probeFromNetns(a.cap.netnsPath, [{ host: outside.peerIp, port: OUTSIDE_PORT, localAddress: a.slot.guestIp }]),
      ['connected'],
    );
  });
});

async function waitFor(cond: () => boolean, timeoutMs = 2000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}
