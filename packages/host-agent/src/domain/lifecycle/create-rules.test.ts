/** The rules of a Create: defaults, limits, capacity, and the record a capsule starts with. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { isWrennError } from '@wrenn/shared';
import type { SnapshotTemplateMetadata } from '../snapshot-templates/snapshot-template-types.js';
import { TEST_TEMPLATE, slotOf } from '../testing/memory-kit.js';
import { baseRecord, baseShape, checkCapacity, checkVolumeMounts, claimedRecord, cloneRecord, cloneShape, createSpec } from './create-rules.js';

const MiB = 1024 * 1024;
const DEFAULT_DISK = 2048 * MiB;
const host = { vcpusTotal: 4, memoryTotalMb: () => 8192, memoryFreeMb: () => 4096 };
const code = (c: string) => (err: unknown) => isWrennError(err) && err.code === c;

const SNAPSHOT: SnapshotTemplateMetadata = {
  version: 1,
  kind: 'snapshot',
  name: 'app-snap',
  hostId: 'host-unit',
  sourceCapsuleId: 'cl-src',
  baseTemplate: 'minimal',
  baseTemplateCreatedAt: TEST_TEMPLATE.createdAt,
  vcpus: 2,
  memoryMb: 1024,
  diskSizeBytes: 4096 * MiB,
  egress: true,
  defaultUser: 'app',
  workdir: '/srv',
  envs: { FROM_SNAPSHOT: '1', SHARED: 'snapshot' },
  metadata: {},
  envdAccessToken: 'image-token',
  createdAtMs: 0,
  memoryBytes: 0,
  diskBytes: 0,
};

describe('createSpec: what an unset field means', () => {
  test('only an id: template minimal, egress on, no lifetime, no auto-pause, empty envs and metadata', () => {
    const spec = createSpec({ capsuleId: 'cl-1' });
    assert.deepEqual(spec, {
      capsuleId: 'cl-1',
      template: 'minimal',
      vcpus: 0,
      memoryMb: 0,
      diskSizeMb: 0,
      envs: {},
      metadata: {},
      lifetimeSec: 0,
      autoPauseSec: 0,
      egress: true,
      defaultUser: '',
      workdir: '',
      volumes: [],
    });
  });

  test("the wire's empty values mean the same as absent ones", () => {
    assert.deepEqual(createSpec({ capsuleId: 'cl-1', template: '', egress: undefined, defaultUser: '' }), createSpec({ capsuleId: 'cl-1' }));
  });

  test('egress off stays off', () => {
    assert.equal(createSpec({ capsuleId: 'cl-1', egress: false }).egress, false);
  });

  test('a negative or fractional disk size is invalid_argument', () => {
    assert.throws(() => createSpec({ capsuleId: 'cl-1', diskSizeMb: -1 }), code('invalid_argument'));
    assert.throws(() => createSpec({ capsuleId: 'cl-1', diskSizeMb: 1.5 }), /disk_size_mb must be a non-negative integer/);
  });
});

describe('baseShape: a capsule from a base template', () => {
  test('unset CPU, memory and disk: 1 vCPU, 512 MB, the configured disk', () => {
    assert.deepEqual(baseShape(createSpec({ capsuleId: 'c' }), TEST_TEMPLATE, DEFAULT_DISK), { vcpus: 1, memoryMb: 512, diskSizeBytes: DEFAULT_DISK });
  });

  test('asked-for values are kept', () => {
    const shape = baseShape(createSpec({ capsuleId: 'c', vcpus: 2, memoryMb: 1024, diskSizeMb: 5000 }), TEST_TEMPLATE, DEFAULT_DISK);
    assert.deepEqual(shape, { vcpus: 2, memoryMb: 1024, diskSizeBytes: 5000 * MiB });
  });

  test('the disk is never smaller than the template (plus room to write)', () => {
    const big = { sizeBytes: 3000 * MiB };
    const shape = baseShape(createSpec({ capsuleId: 'c', diskSizeMb: 100 }), big, DEFAULT_DISK);
    assert.ok(shape.diskSizeBytes > big.sizeBytes, `${shape.diskSizeBytes} > ${big.sizeBytes}`);
  });
});

describe('checkCapacity', () => {
  test('a shape within the host passes', () => {
    checkCapacity({ vcpus: 4, memoryMb: 512 }, host, 0);
  });

  test('vCPUs out of range are invalid_argument; more than the host has is host_at_capacity', () => {
    assert.throws(() => checkCapacity({ vcpus: 0, memoryMb: 512 }, host, 0), code('invalid_argument'));
    assert.throws(() => checkCapacity({ vcpus: 65, memoryMb: 512 }, { ...host, vcpusTotal: 128 }, 0), code('invalid_argument'));
    assert.throws(() => checkCapacity({ vcpus: 5, memoryMb: 512 }, host, 0), (err: unknown) => code('host_at_capacity')(err) && /4 cores/.test((err as Error).message));
  });

  test('memory under 64 MB or fractional is invalid_argument; more than the host has is host_at_capacity', () => {
    assert.throws(() => checkCapacity({ vcpus: 1, memoryMb: 63 }, host, 0), code('invalid_argument'));
    assert.throws(() => checkCapacity({ vcpus: 1, memoryMb: 100.5 }, host, 0), code('invalid_argument'));
    assert.throws(() => checkCapacity({ vcpus: 1, memoryMb: 8193 }, host, 0), code('host_at_capacity'));
  });

  test('memory overcommits to three times the host by default, no further', () => {
    checkCapacity({ vcpus: 1, memoryMb: 8192 }, host, 2 * 8192);
    assert.throws(() => checkCapacity({ vcpus: 1, memoryMb: 8192 }, host, 2 * 8192 + 1), (err: unknown) => code('host_at_capacity')(err) && /fully committed/.test((err as Error).message));
  });

  test('the overcommit ratio is configuration (WRENN_MEMORY_OVERCOMMIT)', () => {
    checkCapacity({ vcpus: 1, memoryMb: 8192 }, host, 8192, 2);
    assert.throws(() => checkCapacity({ vcpus: 1, memoryMb: 8192 }, host, 8193, 2), code('host_at_capacity'));
  });

  test('500 idle capsules of 0.25 vCPU / 128 MB fit a 2-core 24 GB host', () => {
    const small = { vcpusTotal: 2, memoryTotalMb: () => 24 * 1024, memoryFreeMb: () => 24 * 1024 };
    checkCapacity({ vcpus: 0.25, memoryMb: 128 }, small, 499 * 128);
  });
});

describe('cloneShape: a capsule from a snapshot template', () => {
  test("unset fields take the snapshot's CPU, memory and disk", () => {
    assert.deepEqual(cloneShape(createSpec({ capsuleId: 'c' }), SNAPSHOT), { vcpus: 2, memoryMb: 1024, diskSizeBytes: 4096 * MiB });
  });

  test('more CPU and memory may be asked for', () => {
    assert.deepEqual(cloneShape(createSpec({ capsuleId: 'c', vcpus: 4, memoryMb: 2048 }), SNAPSHOT), { vcpus: 4, memoryMb: 2048, diskSizeBytes: 4096 * MiB });
  });

  test('less memory than the image was taken with is refused, saying the minimum', () => {
    assert.throws(() => cloneShape(createSpec({ capsuleId: 'c', memoryMb: 512 }), SNAPSHOT), (err: unknown) => code('invalid_argument')(err) && /at least the 1024 MB/.test((err as Error).message));
  });

  test("a disk larger than the snapshot's is refused", () => {
    assert.throws(() => cloneShape(createSpec({ capsuleId: 'c', diskSizeMb: 5000 }), SNAPSHOT), /leave disk_size_mb unset/);
  });
});

describe('the record a capsule starts with', () => {
  test('from a base template: starting, at its slot, user and workdir from the template, no lifetime, no auto-pause', () => {
    const spec = createSpec({ capsuleId: 'cl-1' });
    const record = baseRecord(spec, 'cl-1', TEST_TEMPLATE, baseShape(spec, TEST_TEMPLATE, DEFAULT_DISK), slotOf(7), 'tok');
    assert.equal(record.status, 'starting');
    assert.equal(record.netSlot, 7);
    assert.equal(record.address, slotOf(7).guestIp);
    assert.equal(record.defaultUser, TEST_TEMPLATE.defaultUser);
    assert.equal(record.workdir, TEST_TEMPLATE.defaultWorkdir);
    assert.equal(record.expiresAtMs, 0);
    assert.equal('autoPauseSec' in record, false);
    assert.equal(record.warm, undefined);
  });

  test('a lifetime becomes an expiry that far ahead', () => {
    const spec = createSpec({ capsuleId: 'cl-1', lifetimeSec: 60, autoPauseSec: 30 });
    const before = Date.now();
    const record = baseRecord(spec, 'cl-1', TEST_TEMPLATE, baseShape(spec, TEST_TEMPLATE, DEFAULT_DISK), slotOf(1), 'tok');
    assert.ok(record.expiresAtMs >= before + 60_000 && record.expiresAtMs <= Date.now() + 60_000);
    assert.equal(record.autoPauseSec, 30);
  });

  test("from a snapshot template: its own id and token, the caller's envs over the snapshot's", () => {
    const spec = createSpec({ capsuleId: 'cl-2', envs: { SHARED: 'caller', MINE: '1' } });
    const record = cloneRecord(spec, SNAPSHOT, cloneShape(spec, SNAPSHOT), slotOf(2), 'fresh');
    assert.equal(record.id, 'cl-2');
    assert.equal(record.envdAccessToken, 'fresh');
    assert.equal(record.baseTemplate, 'minimal');
    assert.deepEqual(record.envs, { FROM_SNAPSHOT: '1', SHARED: 'caller', MINE: '1' });
    assert.equal(record.defaultUser, 'app');
    assert.equal(record.workdir, '/srv');
  });

  test("a claimed warm capsule takes the caller's id and shape and keeps the template's user when none is asked", () => {
    const spec = createSpec({ capsuleId: 'cl-3', memoryMb: 1024 });
    const warm = baseRecord(createSpec({ capsuleId: 'warm-1' }), 'warm-1', TEST_TEMPLATE, { vcpus: 1, memoryMb: 512, diskSizeBytes: DEFAULT_DISK }, slotOf(1), 'old', true);
    const changes = claimedRecord(warm, spec, { vcpus: 1, memoryMb: 1024 }, 'new');
    assert.equal(changes.id, 'cl-3');
    assert.equal(changes.memoryMb, 1024);
    assert.equal(changes.envdAccessToken, 'new');
    assert.equal(changes.defaultUser, TEST_TEMPLATE.defaultUser);
    assert.equal(changes.fromWarmPool, true);
    assert.equal(changes.warm, false);
    assert.equal('status' in changes, false, 'status moves through the registry only');
  });
});

describe('checkVolumeMounts', () => {
  test('absolute paths, each volume and path once, never over /proc, /sys, /dev, /.wrenn or /', () => {
    checkVolumeMounts([{ volumeId: 'vol-a', path: '/mnt/a' }, { volumeId: 'vol-b', path: '/data' }]);
    for (const path of ['mnt', '/a/../b', '/proc', '/dev/x', '/.wrenn', '/', '/a/./b']) {
      assert.throws(() => checkVolumeMounts([{ volumeId: 'vol-a', path }]), (e: unknown) => isWrennError(e) && e.code === 'invalid_argument', path);
    }
    assert.throws(() => checkVolumeMounts([{ volumeId: 'vol-a', path: '/x' }, { volumeId: 'vol-a', path: '/y' }]), /twice/);
    assert.throws(() => checkVolumeMounts([{ volumeId: 'vol-a', path: '/x' }, { volumeId: 'vol-b', path: '/x/' }]), /twice/);
  });
});
