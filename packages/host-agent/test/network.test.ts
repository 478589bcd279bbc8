/**
 * Capsule networking against the real kernel: address pool arithmetic, then plumbing a veth
 * into a fake capsule (a process in its own user + network namespace, like a runc capsule)
 * by PID, re-plumbing after its netns was recreated, cleanup on every path, 20 cycles
 * without residue, and the rate limit. Isolation rules are in network-isolation.test.ts.
 * Every name (nft table, interface prefix, pool) is unique to this run.
 */
import { test, describe, before, after, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { connect, createConnection } from 'node:net';
import { silentLogger, WrennError } from '@wrenn/shared';
import { run } from '../src/infra/exec.js';
import { AddressPool } from '../src/infra/net/address-pool.js';
import { NetworkManager } from '../src/infra/net/network-manager.js';
import type { NetworkSlot, PlumbOptions } from '../src/infra/net/network.js';
import {
  testNet,
  startFakeCapsule,
  startServerInNetns,
  startBulkServer,
  hostLinksWithPrefix,
  nftSetElements,
  median,
  type FakeCapsule,
} from './network-fixtures.js';

const ENVD_PORT = 49983;
const NO_LIMIT: PlumbOptions = { egress: false, rateBytesPerSec: 0, burstBytes: 0 };
const LIMITED: PlumbOptions = { egress: true, rateBytesPerSec: 200_000_000, burstBytes: 100_000_000 };

describe('AddressPool', () => {
  test('slot i is the i-th /30 of the pool: host .1, capsule .2, names from the prefix', () => {
    const pool = new AddressPool({ cidr: '10.88.0.0/16' });
    assert.deepEqual(pool.slot(0), { index: 0, hostIf: 'wr0h', guestIf: 'eth0', hostIp: '10.88.0.1', guestIp: '10.88.0.2', prefixLen: 30 });
    assert.deepEqual(pool.slot(70), { index: 70, hostIf: 'wr70h', guestIf: 'eth0', hostIp: '10.88.1.25', guestIp: '10.88.1.26', prefixLen: 30 });
    assert.equal(pool.capacity, 16384);
    assert.equal(pool.slot(16383).guestIp, '10.88.255.254');
    assert.equal(pool.indexOfGuestIp('10.88.1.26'), 70);
    assert.equal(pool.indexOfGuestIp('10.88.1.25'), undefined);
    assert.equal(pool.indexOfGuestIp('10.89.0.2'), undefined);
  });

  test('allocation is deterministic and does not hand a released slot out again at once', () => {
    const pool = new AddressPool({ cidr: '10.88.0.0/28' });
    assert.deepEqual([pool.allocate().index, pool.allocate().index], [0, 1]);
    pool.release(0);
    assert.equal(pool.allocate().index, 2);
    assert.equal(pool.allocate().index, 3);
    assert.equal(pool.allocate().index, 0);
  });

  test('reserve re-claims a persisted slot and refuses one in use or outside the pool', () => {
    const pool = new AddressPool({ cidr: '10.88.0.0/28' });
    assert.equal(pool.reserve(2).guestIp, '10.88.0.10');
    assert.throws(() => pool.reserve(2), (e: WrennError) => e.code === 'conflict');
    assert.throws(() => pool.reserve(4), (e: WrennError) => e.code === 'invalid_argument');
    assert.equal(pool.allocate().index, 3);
  });

  test('an exhausted pool fails with host_at_capacity and says what to do', () => {
    const pool = new AddressPool({ cidr: '10.88.0.0/29' });
    pool.allocate();
    pool.allocate();
    assert.throws(
      () => pool.allocate(),
      (e: WrennError) => e.code === 'host_at_capacity' && /all 2 addresses of pool 10\.88\.0\.0\/29/.test(e.message) && /larger pool/.test(e.message),
    );
  });

  test('invalid pools and prefixes are refused with the reason', () => {
    assert.throws(() => new AddressPool({ cidr: '10.88.0.1/16' }), /host bits set: use the network address 10\.88\.0\.0\/16/);
    assert.throws(() => new AddressPool({ cidr: '10.88.0.0/31' }), /smaller than one \/30/);
    assert.throws(() => new AddressPool({ cidr: 'ten/8' }), /not an IPv4 CIDR/);
    assert.throws(() => new AddressPool({ ifPrefix: 'wr1' }), /lowercase letters/);
    assert.throws(() => new AddressPool({ cidr: '10.0.0.0/8', ifPrefix: 'abcdefgh' }), /too long/);
  });
});

describe('NetworkManager: plumbing a fake capsule by PID', () => {
  const names = testNet();
  const pool = new AddressPool({ cidr: names.poolCidr, ifPrefix: names.ifPrefix });
  let manager: NetworkManager;

  // Each test releases what it made when it ends (pass or fail), so the next starts clean.
  async function capsule(t: TestContext): Promise<FakeCapsule> {
    const cap = await startFakeCapsule();
    t.after(cap.kill);
    return cap;
  }

  function slot(t: TestContext): NetworkSlot {
    const s = pool.allocate();
    t.after(async () => {
      await manager.unplumb(s);
      pool.release(s.index);
    });
    return s;
  }

  async function server(t: TestContext, cap: FakeCapsule) {
    const srv = await startServerInNetns(cap.netnsPath, ENVD_PORT);
    t.after(srv.close);
    return srv;
  }

  async function inNetns(cap: FakeCapsule, args: string[]): Promise<string> {
    return (await run('nsenter', [`--net=${cap.netnsPath}`, ...args])).stdout;
  }

  function greeting(host: string, port: number): Promise<string> {
    return new Promise((resolve, reject) => {
      const s = createConnection({ host, port, timeout: 3000 });
      let data = '';
      s.on('data', (b) => (data += b.toString()));
      s.on('end', () => resolve(data));
      s.on('timeout', () => (s.destroy(), reject(new Error(`timeout connecting to ${host}:${port}`))));
      s.on('error', reject);
    });
  }

  async function residue() {
    return {
      links: hostLinksWithPrefix(names.ifPrefix),
      sources: await nftSetElements(names.table, 'capsule_sources'),
      egress: await nftSetElements(names.table, 'egress_sources'),
      qdiscs: (await run('tc', ['qdisc', 'show'])).stdout.split('\n').filter((l) => l.includes(` dev ${names.ifPrefix}`)),
    };
  }
  const NOTHING = { links: [], sources: [], egress: [], qdiscs: [] };

  before(async () => {
    manager = await NetworkManager.open({ logger: silentLogger(), pool, nftTable: names.table, enableIpForwarding: false });
  });

  after(async () => {
    await manager?.close().catch(() => {});
    for (const l of hostLinksWithPrefix(names.ifPrefix)) await run('ip', ['link', 'del', l], { allowFailure: true });
    await run('nft', ['delete', 'table', 'inet', names.table], { allowFailure: true });
  });

  test('a plumbed capsule has eth0 with its address, lo up and a default route via the host end', async (t) => {
    const cap = await capsule(t);
    const s = slot(t);
    await manager.plumb(s, cap.pid, LIMITED);

    const links = JSON.parse(await inNetns(cap, ['ip', '-j', 'addr', 'show'])) as Array<{
      ifname: string;
      flags: string[];
      addr_info: Array<{ family: string; local: string; prefixlen: number }>;
    }>;
    const eth0 = links.find((l) => l.ifname === 'eth0');
    const lo = links.find((l) => l.ifname === 'lo');
    assert.ok(eth0?.flags.includes('UP') && eth0.flags.includes('LOWER_UP'), 'eth0 up with carrier');
    assert.deepEqual(
      eth0?.addr_info.filter((a) => a.family === 'inet').map((a) => `${a.local}/${a.prefixlen}`),
      [`${s.guestIp}/30`],
    );
    assert.ok(lo?.flags.includes('UP'), 'lo up');
    const routes = JSON.parse(await inNetns(cap, ['ip', '-j', 'route', 'show', 'default'])) as Array<{ gateway: string; dev: string }>;
    assert.deepEqual(routes.map((r) => [r.gateway, r.dev]), [[s.hostIp, 'eth0']]);

    const host = JSON.parse((await run('ip', ['-j', 'addr', 'show', 'dev', s.hostIf])).stdout) as Array<{
      addr_info: Array<{ family: string; local: string }>;
    }>;
    assert.deepEqual(host[0]?.addr_info.map((a) => `${a.family} ${a.local}`), [`inet ${s.hostIp}`], 'host end: IPv4 link address only');
    const sysctl = (k: string) => readFileSync(`/proc/sys/net/ipv4/conf/${s.hostIf}/${k}`, 'utf8').trim();
    assert.deepEqual(
      ['rp_filter', 'arp_ignore', 'forwarding', 'route_localnet'].map(sysctl),
      ['1', '1', '1', '0'],
    );

    const qdiscs = JSON.parse((await run('tc', ['-j', 'qdisc', 'show', 'dev', s.hostIf])).stdout) as Array<{ kind: string }>;
    assert.deepEqual(qdiscs.map((q) => q.kind).sort(), ['ingress', 'tbf']);
    const shaper = JSON.parse((await run('tc', ['-j', 'qdisc', 'show', 'dev', s.hostIf.replace(/h$/, 'i')])).stdout) as Array<{ kind: string }>;
    assert.deepEqual(shaper.map((q) => q.kind), ['tbf']);
  });

  test('the host reaches a server in the capsule at guestIp:49983, from its link address', async (t) => {
    const cap = await capsule(t);
    const s = slot(t);
    await manager.plumb(s, cap.pid, NO_LIMIT);
    const srv = await server(t, cap);
    assert.equal(await greeting(s.guestIp, ENVD_PORT), 'hello\n');
    assert.deepEqual(srv.remotes, [s.hostIp]);
  });

  test('unplumb removes the veth (and the guest end), the IFB, qdiscs and rules, and is idempotent', async (t) => {
    const cap = await capsule(t);
    const s = slot(t);
    await manager.plumb(s, cap.pid, LIMITED);
    assert.equal((await residue()).links.includes(s.hostIf), true);
    await manager.unplumb(s);
    const left = await residue();
    assert.equal(left.links.filter((l) => l.startsWith(`${names.ifPrefix}${s.index}`)).length, 0);
    assert.equal(left.sources.length + left.egress.length, 0, 'no nft elements');
    const inside = JSON.parse(await inNetns(cap, ['ip', '-j', 'link', 'show'])) as Array<{ ifname: string }>;
    assert.deepEqual(inside.map((l) => l.ifname), ['lo']);
    await manager.unplumb(s);
  });

  test('replumb after the netns was recreated gives the same address and works again', async (t) => {
    const first = await capsule(t);
    const s = slot(t);
    await manager.plumb(s, first.pid, LIMITED);
    await first.kill(); // like a checkpoint: the netns and the veth die, the IFB stays
    const second = await capsule(t);
    await manager.replumb(s, second.pid, LIMITED);
    const inside = JSON.parse(await inNetns(second, ['ip', '-j', 'addr', 'show', 'dev', 'eth0'])) as Array<{
      addr_info: Array<{ family: string; local: string }>;
    }>;
    assert.deepEqual(inside[0]?.addr_info.filter((a) => a.family === 'inet').map((a) => a.local), [s.guestIp]);
    await server(t, second);
    assert.equal(await greeting(s.guestIp, ENVD_PORT), 'hello\n');
    // lo must be up again too (CRIU brings it back down)
    const lo = JSON.parse(await inNetns(second, ['ip', '-j', 'link', 'show', 'dev', 'lo'])) as Array<{ flags: string[] }>;
    assert.ok(lo[0]?.flags.includes('UP'));
  });

  test('a failure half-way through plumb leaves no interface and no rule behind', async (t) => {
    const cap = await capsule(t);
    const base = pool.allocate();
    t.after(() => pool.release(base.index));
    // The host batch creates the veth, then fails on the address.
    await assert.rejects(manager.plumb({ ...base, hostIp: '10.1.2.300' }, cap.pid, LIMITED), (e: WrennError) => e.code === 'internal');
    assert.deepEqual(await residue(), NOTHING);
    // The host side (veth + IFB) is complete, then the rules step fails.
    await assert.rejects(manager.plumb({ ...base, guestIp: '10.1.2.300' }, cap.pid, LIMITED), /network plumb of slot/);
    assert.deepEqual(await residue(), NOTHING);
    // The guest end cannot be created: the capsule already has an eth0.
    await inNetns(cap, ['ip', 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'eth0peer']);
    await assert.rejects(manager.plumb(base, cap.pid, LIMITED), /network plumb of slot/);
    assert.deepEqual(await residue(), NOTHING);
  });

  test('cancelling plumb at any point leaves nothing behind', async (t) => {
    const cap = await capsule(t);
    for (const delayMs of [0, 1, 2, 4, 8]) {
      const s = pool.allocate();
      const ac = new AbortController();
      const plumbing = manager.plumb(s, cap.pid, LIMITED, ac.signal);
      setTimeout(() => ac.abort(), delayMs);
      try {
        await plumbing;
        await manager.unplumb(s); // finished before the abort: must be whole, then removed
      } catch (err) {
        assert.equal((err as WrennError).code, 'canceled', String(err));
      }
      pool.release(s.index);
      assert.deepEqual(await residue(), NOTHING, `after abort at ${delayMs} ms`);
    }
  });

  test('plumbing refuses a process without a netns of its own and a process that does not exist', async (t) => {
    const s = pool.allocate();
    t.after(() => pool.release(s.index));
    await assert.rejects(manager.plumb(s, process.pid, NO_LIMIT), (e: WrennError) => e.code === 'failed_precondition' && /shares the host's network namespace/.test(e.message));
    await assert.rejects(manager.plumb(s, 2 ** 22 + 17, NO_LIMIT), (e: WrennError) => e.code === 'failed_precondition' && /does not exist/.test(e.message));
    await assert.rejects(manager.plumb(s, process.pid, { egress: true, rateBytesPerSec: 1000, burstBytes: 100_000_000 }), /keep it under 250 s/);
    assert.deepEqual(await residue(), NOTHING);
  });

  test('20 plumb/unplumb cycles leave no veth, no rules and no qdiscs', async (t) => {
    const cap = await capsule(t);
    const plumbMs: number[] = [];
    const unplumbMs: number[] = [];
    for (let i = 0; i < 20; i++) {
      const s = pool.allocate();
      let t0 = performance.now();
      await manager.plumb(s, cap.pid, LIMITED);
      plumbMs.push(performance.now() - t0);
      t0 = performance.now();
      await manager.unplumb(s);
      unplumbMs.push(performance.now() - t0);
      pool.release(s.index);
    }
    assert.deepEqual(await residue(), NOTHING);
    const inside = JSON.parse(await inNetns(cap, ['ip', '-j', 'link', 'show'])) as Array<{ ifname: string }>;
    assert.deepEqual(inside.map((l) => l.ifname), ['lo']);
    t.diagnostic(
      `plumb p50 ${median(plumbMs).toFixed(1)} ms (max ${Math.max(...plumbMs).toFixed(1)}), unplumb p50 ${median(unplumbMs).toFixed(1)} ms (max ${Math.max(...unplumbMs).toFixed(1)})`,
    );
  });

  test('after an agent restart, cleanupLeftovers removes unknown slots and keeps the known ones working', async (t) => {
    const [capA, capB] = [await capsule(t), await capsule(t)];
    const [a, b] = [slot(t), slot(t)];
    await manager.plumb(a, capA.pid, LIMITED);
    await manager.plumb(b, capB.pid, { ...LIMITED, egress: false });
    await capB.kill(); // died while the agent was down: its IFB and rules are left over

    const restarted = await NetworkManager.open({ logger: silentLogger(), pool: new AddressPool({ cidr: names.poolCidr, ifPrefix: names.ifPrefix }), nftTable: names.table, enableIpForwarding: false });
    const report = await restarted.cleanupLeftovers([a.index]);
    assert.ok(report.interfaces.includes(`${names.ifPrefix}${b.index}i`), `removed ${report.interfaces.join(',')}`);
    assert.equal(report.nftElements, 1, 'the dead capsule\'s source element');
    const left = await residue();
    assert.deepEqual(left.links.sort(), [a.hostIf, `${names.ifPrefix}${a.index}i`].sort());
    assert.deepEqual(left.sources, [{ concat: [a.hostIf, a.guestIp] }]);
    assert.deepEqual(left.egress, [a.guestIp]);

    await server(t, capA);
    assert.equal(await greeting(a.guestIp, ENVD_PORT), 'hello\n');
  });

  test('the rate limit caps a 100 MB transfer in each direction near the configured 20 MB/s', async (t) => {
    const rate = 20_000_000;
    const total = 100_000_000;
    const cap = await capsule(t);
    const s = slot(t);
    await manager.plumb(s, cap.pid, { egress: false, rateBytesPerSec: rate, burstBytes: 1_000_000 });

    // download: the host sends into the capsule, the capsule times what it receives
    const sink = await startBulkServer(cap.netnsPath, 'recv', 5001, total);
    t.after(sink.close);
    const sock = connect(5001, s.guestIp);
    sock.on('error', () => {});
    const chunk = Buffer.alloc(1 << 20);
    for (let sent = 0; sent < total; sent += chunk.length) {
      if (!sock.write(chunk)) await new Promise((r) => sock.once('drain', r));
    }
    const down = await sink.received;
    sock.destroy();

    // upload: the host connects (as the agent does) and the capsule sends
    const source = await startBulkServer(cap.netnsPath, 'send', 5002, total);
    t.after(source.close);
    const up = await new Promise<{ bytes: number; ms: number }>((resolve, reject) => {
      const c = connect(5002, s.guestIp);
      let got = 0;
      let t0: number | undefined;
      c.on('data', (b) => {
        t0 ??= performance.now();
        got += b.length;
      });
      c.on('end', () => resolve({ bytes: got, ms: performance.now() - (t0 ?? 0) }));
      c.on('error', reject);
    });
    assert.equal(up.bytes, total);

    const mbps = (r: { bytes: number; ms: number }) => r.bytes / 1e6 / (r.ms / 1000);
    t.diagnostic(`download ${mbps(down).toFixed(1)} MB/s, upload ${mbps(up).toFixed(1)} MB/s (limit 20 MB/s, burst 1 MB)`);
    for (const [dir, r] of [['download', down], ['upload', up]] as const) {
      assert.ok(mbps(r) > 12 && mbps(r) < 28, `${dir} ${mbps(r).toFixed(1)} MB/s is not within ±40% of 20 MB/s`);
    }
  });

  test('close removes every interface of the prefix and the nftables table', async (t) => {
    const cap = await capsule(t);
    const s = slot(t);
    await manager.plumb(s, cap.pid, LIMITED);
    await manager.close();
    assert.deepEqual(hostLinksWithPrefix(names.ifPrefix), []);
    const table = await run('nft', ['list', 'table', 'inet', names.table], { allowFailure: true });
    assert.notEqual(table.code, 0, 'table deleted');
    await manager.close(); // idempotent
  });
});
