import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { WrennError } from '@wrenn/shared';
import type { Host } from '../db/schema.js';
import { chooseHost, rankHosts, type HostLoad, type OvercommitRatios } from './scheduler.js';

const RATIOS: OvercommitRatios = { cpu: 8, memory: 2, disk: 1 };

const GiB = 1024 ** 3;

function load(id: string, o: { status?: Host['status']; type?: 'regular' | 'byoc'; teamId?: string; tags?: string[]; vcpus?: number; memGiB?: number; diskFreeGiB?: number; committedMemoryMb?: number; committedVcpus?: number; committedDiskMb?: number; suspectAt?: Date; heartbeatAt?: Date } = {}): HostLoad {
  const host = {
    id,
    name: id,
    agent_url: 'http://127.0.0.1:1',
    agent_token: 't',
    proxy_url: null,
    status: o.status ?? 'up',
    vcpus_total: o.vcpus ?? 4,
    memory_total_bytes: String((o.memGiB ?? 8) * GiB),
    memory_free_bytes: String((o.memGiB ?? 8) * GiB),
    disk_free_bytes: String((o.diskFreeGiB ?? 100) * GiB),
    capsules: 0,
    version: null,
    last_heartbeat_at: o.heartbeatAt ?? new Date(),
    suspect_at: o.suspectAt ?? null,
    created_by: null,
    created_at: new Date(),
    type: o.type ?? 'regular',
    team_id: o.teamId ?? null,
    tags: JSON.stringify(o.tags ?? []),
  } as unknown as Host;
  return { host, committedMemoryMb: o.committedMemoryMb ?? 0, committedVcpus: o.committedVcpus ?? 0, committedDiskMb: o.committedDiskMb ?? 0 };
}

const small = { vcpus: 1, memoryMb: 512, diskSizeMb: 0 };

const choose = (loads: HostLoad[], req: Parameters<typeof chooseHost>[1]) => chooseHost(loads, req, RATIOS);

function refusal(fn: () => unknown): WrennError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof WrennError, String(err));
    return err;
  }
  assert.fail('expected a refusal');
}

describe("the scheduler's choice", () => {
  test('every fitting host is ranked, best first; a suspect one (failed a connection since its last heartbeat) is skipped until it heartbeats again', () => {
    const beat = new Date(Date.now() - 5000);
    const best = load('host-best', { heartbeatAt: beat, suspectAt: new Date() });
    const next = load('host-next', { committedMemoryMb: 4_000 });
    const last = load('host-last', { committedMemoryMb: 8_000 });
    assert.deepEqual(rankHosts([last, best, next], small, RATIOS).map((h) => h.id), ['host-next', 'host-last']);
    const e = refusal(() => rankHosts([best], small, RATIOS));
    assert.match(e.message, /host-best did not answer since its last heartbeat/);
    const beatAgain = load('host-best', { heartbeatAt: new Date(), suspectAt: beat });
    assert.deepEqual(rankHosts([last, beatAgain, next], small, RATIOS).map((h) => h.id), ['host-best', 'host-next', 'host-last']);
  });

  test('the host with the most uncommitted memory wins', () => {
    const busy = load('host-busy', { committedMemoryMb: 12_000 });
    const idle = load('host-idle', { committedMemoryMb: 1_000 });
    assert.equal(choose([busy, idle], small).id, 'host-idle');
    assert.equal(choose([idle, busy], small).id, 'host-idle', 'not the order of the list');
  });

  test('down and draining hosts are skipped, and the refusal says so', () => {
    assert.equal(choose([load('host-down', { status: 'down' }), load('host-up', { committedMemoryMb: 15_000 })], small).id, 'host-up');
    const e = refusal(() => choose([load('host-down', { status: 'down' }), load('host-drain', { status: 'draining' })], small));
    assert.equal(e.code, 'host_at_capacity');
    assert.equal(e.httpStatus, 503);
    assert.match(e.message, /host-down is down/);
    assert.match(e.message, /host-drain is draining/);
  });

  test('memory and CPU are overcommitted by their ratios, and no further', () => {
    const memMb = 8 * 1024 * RATIOS.memory;
    assert.equal(choose([load('h', { committedMemoryMb: memMb - 512 })], small).id, 'h', 'exactly the last 512 MB fit');
    assert.match(refusal(() => choose([load('h', { committedMemoryMb: memMb - 511 })], small)).message, /h has 511 MB of memory left to commit/);
    assert.match(refusal(() => choose([load('h', { committedVcpus: 4 * RATIOS.cpu })], small)).message, /h has 0 vCPUs left to commit/);
  });

  test('a request for more cores than a host has, or more disk than it has left to grant, does not go there', () => {
    assert.match(refusal(() => choose([load('h', { vcpus: 2 })], { ...small, vcpus: 3 })).message, /h has 2 cores/);
    assert.match(refusal(() => choose([load('h', { diskFreeGiB: 1 })], { ...small, diskSizeMb: 2048 })).message, /h has 1024 MB of disk left to grant/);
    // Granted sizes count, not what the sparse disks use so far.
    assert.match(refusal(() => choose([load('h', { diskFreeGiB: 100, committedDiskMb: 100 * 1024 - 1000 })], { ...small, diskSizeMb: 2000 })).message, /h has 1000 MB of disk left to grant/);
  });

  test('a pinned request goes only to its host, even when another has more room', () => {
    const roomy = load('host-roomy');
    const pinned = load('host-pinned', { committedMemoryMb: 10_000 });
    assert.equal(choose([roomy, pinned], { ...small, pinnedHostId: 'host-pinned' }).id, 'host-pinned');
    assert.match(refusal(() => choose([roomy], { ...small, pinnedHostId: 'host-gone' })).message, /host-gone that holds this template is not registered/);
  });

  test("a request's tags pick the hosts that carry them all; another team's BYOC host is never considered", () => {
    const plain = load('host-plain');
    const gpu = load('host-gpu', { tags: ['gpu', 'eu'], committedMemoryMb: 10_000 });
    assert.equal(choose([plain, gpu], { ...small, hostTags: ['gpu'] }).id, 'host-gpu');
    assert.match(refusal(() => choose([plain, gpu], { ...small, hostTags: ['gpu', 'us'] })).message, /host-gpu lacks tag us/);
    const theirs = load('host-theirs', { type: 'byoc', teamId: 'team-b' });
    const ours = load('host-ours', { type: 'byoc', teamId: 'team-a', committedMemoryMb: 10_000 });
    assert.equal(choose([theirs, ours], { ...small, teamId: 'team-a' }).id, 'host-ours');
    const e = refusal(() => choose([theirs], { ...small, teamId: 'team-a' }));
    assert.doesNotMatch(e.message, /host-theirs/, 'not even named');
  });
});
