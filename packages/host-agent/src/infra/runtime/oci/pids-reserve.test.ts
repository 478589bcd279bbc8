/** The pids reserve for envd: RLIMIT_NPROC per uid inside a capsule, only where the kernel counts it per user namespace. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { nprocPerUserNamespace } from './host-limits.js';
import { buildOciSpec, PIDS_RESERVE } from './spec.js';

const spec = {
  id: 'cl-pids',
  bundleDir: '/tmp/b',
  rootfs: '/tmp/r',
  hostname: 'cl-pids',
  idMapping: { hostBase: 100000, size: 65536 },
  limits: { vcpus: 1, memoryMb: 128, pidsMax: 4096 },
  mounts: [],
  args: ['/init'],
  env: [],
  cwd: '/',
};

test('NPROC counts per user namespace from Linux 5.14 on', () => {
  assert.equal(nprocPerUserNamespace('5.13.19-generic'), false);
  assert.equal(nprocPerUserNamespace('5.14.0-1'), true);
  assert.equal(nprocPerUserNamespace('6.18.44-fc-v1272'), true);
  assert.equal(nprocPerUserNamespace('4.19.0'), false);
  assert.equal(nprocPerUserNamespace('garbage'), false);
});

test('with the reserve every uid inside is held to pids.max minus the reserve; without it no NPROC limit', () => {
  const withReserve = buildOciSpec(spec, { cgroupsPath: '/wrenn/cl-pids', limitSwap: true, nofileHard: 1024, pidsReserve: true });
  assert.deepEqual(withReserve.process.rlimits.find((r) => r.type === 'RLIMIT_NPROC'), { type: 'RLIMIT_NPROC', soft: 4096 - PIDS_RESERVE, hard: 4096 - PIDS_RESERVE });
  assert.equal(withReserve.linux.resources.pids?.limit, 4096);
  const without = buildOciSpec(spec, { cgroupsPath: '/wrenn/cl-pids', limitSwap: true, nofileHard: 1024 });
  assert.equal(without.process.rlimits.find((r) => r.type === 'RLIMIT_NPROC'), undefined);
});
