/**
 * A pause that fails half-way leaves the capsule running (thawed, sampler restarted) or,
 * if it cannot run any more, destroyed and marked error (docs/decisions.md#h3, #h11) — never a record that
 * says running while the capsule cannot execute. Faults: the snapshot disk fills up during
 * the dump; CRIU fails at once; CRIU is killed in the middle of the dump; CRIU hangs in a
 * dump or a restore (the deadline WRENN_PAUSE_TIMEOUT_MS kills it).
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Code } from '@connectrpc/connect';
import { CapsuleStatus } from '@wrenn/proto/hostagent';
import { run } from '../src/infra/exec.js';
import { CRIU_WRAPPER } from '../src/infra/criu/criu-probe.js';
import { TEST_CACHE, hostResources, newCapsuleId, rpcError, sharedTemplates, startTestAgent, type TestAgent } from './agent-harness.js';
import { COUNTER_PY, waitForLine } from './pause-fixtures.js';

/**
 * The capsule after a failed pause: running and executing, with its counter process going
 * on from where it was; or error with nothing of it left on the host.
 */
export async function assertRunningOrReleased(t: TestAgent, id: string): Promise<'running' | 'error'> {
  const capsule = (await t.client.get({ capsuleId: id })).capsule!;
  if (capsule.status === CapsuleStatus.RUNNING) {
    assert.equal((await t.client.exec({ capsuleId: id, cmd: 'true' })).exitCode, 0);
    const values = await waitForLine(t, id, '/tmp/counter.log', 0, 5);
    assert.deepEqual(values, values.map((_, i) => i + 1), 'the counter went on without a reset');
    assert.ok(t.agent.manager.metrics(id, '5m') !== undefined);
    return 'running';
  }
  assert.equal(capsule.status, CapsuleStatus.ERROR, `capsule is ${CapsuleStatus[capsule.status]}`);
  assert.match(capsule.error, /could not run again/);
  const res = await hostResources(t);
  assert.deepEqual({ ...res, links: [] }, { mounts: [], loops: [], links: [], runcState: [], cgroups: [] });
  await t.client.destroy({ capsuleId: id });
  return 'error';
}

describe('pause with the snapshot disk full', () => {
  let t: TestAgent | undefined;
  let mnt: string;
  before(async () => {
    await sharedTemplates();
    mnt = mkdtempSync(join(TEST_CACHE, `snapfull-${process.pid}-`));
    // 3 MiB: an idle capsule's image alone is ~7 MB, so the dump runs out of space.
    await run('mount', ['-t', 'tmpfs', '-o', 'size=3m,mode=0711', `wrenn-snapfull-${process.pid}`, mnt]);
    t = await startTestAgent({ env: { WRENN_SNAPSHOT_DIR: join(mnt, 'snapshots') } });
  });
  after(async () => {
    await t?.close();
    await run('umount', [mnt], { allowFailure: true });
    rmSync(mnt, { recursive: true, force: true });
  });

  test('the dump fails with not enough disk space and the capsule runs on', async () => {
    const id = newCapsuleId('cl-df');
    await t!.client.create({ capsuleId: id, template: 'minimal', vcpus: 1, memoryMb: 256 });
    await t!.client.startBackground({ capsuleId: id, cmd: 'python3', args: ['-c', COUNTER_PY], tag: 'counter' });
    await waitForLine(t!, id, '/tmp/counter.log', 3);
    const err = await rpcError(t!.client.pause({ capsuleId: id }));
    assert.equal(err.code, Code.ResourceExhausted, err.message);
    assert.match(err.rawMessage, /No space left on device/);
    assert.equal(await assertRunningOrReleased(t!, id), 'running');
    assert.deepEqual(readdirSync(join(mnt, 'snapshots')), [], 'the partial image is deleted');
    // And the capsule can still be paused by the kind that needs no snapshot space.
    const pauseAgain = await rpcError(t!.client.pause({ capsuleId: id }));
    assert.equal(pauseAgain.code, Code.ResourceExhausted);
    assert.equal((await t!.client.exec({ capsuleId: id, cmd: 'true' })).exitCode, 0);
  });
});

describe('pause with a failing, crashing or hanging CRIU (simulated)', () => {
  // A CRIU crash cannot be produced on demand for real: WRENN_CRIU points at a wrapper that,
  // while a mode file exists, fails at once or kills the real CRIU after a delay. `criu
  // check` (the agent's probe) passes through, so the agent believes snapshots work.
  // A hang (seen once: a CRIU that never answered runc) is simulated by a wrapper that
  // sleeps instead of running CRIU: to runc that is a CRIU that never answers, a fair
  // stand-in for a stuck dump or restore. The agent's deadline is short here to keep the
  // test short; the default is minutes.
  const CRIU_TIMEOUT_MS = 4000;
  let t: TestAgent | undefined;
  let dir: string;
  let modeFile: string;
  before(async () => {
    await sharedTemplates();
    assert.ok(existsSync(CRIU_WRAPPER), 'scripts/install-criu.sh must have run');
    dir = mkdtempSync(join(TEST_CACHE, `criufault-${process.pid}-`));
    chmodSync(dir, 0o755);
    modeFile = join(dir, 'mode');
    const wrapper = join(dir, 'criu');
    writeFileSync(
      wrapper,
      [
        '#!/bin/bash',
        `mode=$(cat ${modeFile} 2>/dev/null)`,
        'if [ "$1" = swrk ] && [ "$mode" = fail ]; then echo "simulated criu failure" >&2; exit 1; fi',
        // runc's first swrk per command only asks CRIU's version; the second one dumps.
        `if [ "$1" = swrk ] && { [ "\${mode%%:*}" = kill ] || [ "$mode" = hang ]; } && [ ! -e ${modeFile}.seen ]; then touch ${modeFile}.seen; exec ${CRIU_WRAPPER} "$@"; fi`,
        `if [ "$1" = swrk ] && [ "$mode" = hang ]; then echo $$ > ${modeFile}.hung; exec sleep 3600; fi`,
        'if [ "$1" = swrk ] && [ "${mode%%:*}" = kill ]; then',
        `  ${CRIU_WRAPPER} "$@" & child=$!`,
        '  sleep "${mode#kill:}"; kill -KILL $child; wait $child; exit 137',
        'fi',
        `exec ${CRIU_WRAPPER} "$@"`,
      ].join('\n') + '\n',
      { mode: 0o755 },
    );
    t = await startTestAgent({ env: { WRENN_CRIU: wrapper, WRENN_PAUSE_TIMEOUT_MS: String(CRIU_TIMEOUT_MS) } });
  });
  after(async () => {
    await t?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('CRIU failing at once: the capsule is thawed and running, its envd subsystems restarted', async () => {
    const id = newCapsuleId('cl-cf');
    await t!.client.create({ capsuleId: id, template: 'minimal', vcpus: 1, memoryMb: 256 });
    await t!.client.startBackground({ capsuleId: id, cmd: 'python3', args: ['-c', COUNTER_PY], tag: 'counter' });
    await waitForLine(t!, id, '/tmp/counter.log', 3);
    writeFileSync(modeFile, 'fail');
    const err = await rpcError(t!.client.pause({ capsuleId: id }));
    assert.match(err.rawMessage, /CRIU version check failed|criu failed/i);
    assert.equal(await assertRunningOrReleased(t!, id), 'running');
    // Paused for real once CRIU works again.
    writeFileSync(modeFile, '');
    assert.equal((await t!.client.pause({ capsuleId: id })).capsule?.status, CapsuleStatus.PAUSED);
    assert.equal((await t!.client.resume({ capsuleId: id })).capsule?.status, CapsuleStatus.RUNNING);
    await t!.client.destroy({ capsuleId: id });
  });

  for (const delaySec of ['0.03', '0.12']) {
    test(`CRIU killed ${delaySec} s into the dump: the capsule ends running or error, never a zombie`, async (ctx) => {
      const id = newCapsuleId('cl-ck');
      await t!.client.create({ capsuleId: id, template: 'minimal', vcpus: 1, memoryMb: 256 });
      await t!.client.startBackground({ capsuleId: id, cmd: 'python3', args: ['-c', COUNTER_PY], tag: 'counter' });
      await waitForLine(t!, id, '/tmp/counter.log', 3);
      rmSync(`${modeFile}.seen`, { force: true });
      writeFileSync(modeFile, `kill:${delaySec}`);
      try {
        await rpcError(t!.client.pause({ capsuleId: id }));
      } finally {
        writeFileSync(modeFile, '');
      }
      const outcome = await assertRunningOrReleased(t!, id);
      ctx.diagnostic(`capsule ended ${outcome}`);
      if (outcome === 'running') await t!.client.destroy({ capsuleId: id });
    });
  }

  /** Resolves once the hung wrapper (its pid in the mode's .hung file) is gone, not even a zombie. */
  async function hungCriuGone(): Promise<void> {
    const pid = Number(readFileSync(`${modeFile}.hung`, 'utf8').trim());
    assert.ok(pid > 0);
    for (let i = 0; i < 100 && existsSync(`/proc/${pid}`); i++) await new Promise((r) => setTimeout(r, 20));
    assert.equal(existsSync(`/proc/${pid}`), false, `the hung CRIU stand-in (pid ${pid}) was killed and reaped`);
  }

  test('CRIU hanging in the dump: the pause fails at the deadline, CRIU is killed, the capsule runs on', async () => {
    const id = newCapsuleId('cl-ch');
    await t!.client.create({ capsuleId: id, template: 'minimal', vcpus: 1, memoryMb: 256 });
    await t!.client.startBackground({ capsuleId: id, cmd: 'python3', args: ['-c', COUNTER_PY], tag: 'counter' });
    await waitForLine(t!, id, '/tmp/counter.log', 3);
    rmSync(`${modeFile}.seen`, { force: true });
    rmSync(`${modeFile}.hung`, { force: true });
    writeFileSync(modeFile, 'hang');
    const started = Date.now();
    let err;
    try {
      err = await rpcError(t!.client.pause({ capsuleId: id }));
    } finally {
      writeFileSync(modeFile, '');
    }
    assert.equal(err.code, Code.DeadlineExceeded, err.message);
    assert.match(err.rawMessage, /did not finish within 4000 ms/);
    assert.ok(Date.now() - started < CRIU_TIMEOUT_MS + 15_000, 'the pause gave up at its deadline');
    await hungCriuGone();
    assert.equal(await assertRunningOrReleased(t!, id), 'running');
    // Nothing of the failed pause is in the way of the next one.
    assert.equal((await t!.client.pause({ capsuleId: id })).capsule?.status, CapsuleStatus.PAUSED);
    assert.equal((await t!.client.resume({ capsuleId: id })).capsule?.status, CapsuleStatus.RUNNING);
    await t!.client.destroy({ capsuleId: id });
  });

  test('CRIU hanging in the restore: the resume fails at the deadline, the capsule stays paused and resumes later', async () => {
    const id = newCapsuleId('cl-rh');
    await t!.client.create({ capsuleId: id, template: 'minimal', vcpus: 1, memoryMb: 256 });
    await t!.client.startBackground({ capsuleId: id, cmd: 'python3', args: ['-c', COUNTER_PY], tag: 'counter' });
    await waitForLine(t!, id, '/tmp/counter.log', 3);
    await t!.client.pause({ capsuleId: id });
    rmSync(`${modeFile}.seen`, { force: true });
    rmSync(`${modeFile}.hung`, { force: true });
    writeFileSync(modeFile, 'hang');
    let err;
    try {
      err = await rpcError(t!.client.resume({ capsuleId: id }));
    } finally {
      writeFileSync(modeFile, '');
    }
    assert.equal(err.code, Code.DeadlineExceeded, err.message);
    await hungCriuGone();
    // Its processes never ran: the snapshot is intact, so the capsule is paused, not error.
    assert.equal((await t!.client.get({ capsuleId: id })).capsule?.status, CapsuleStatus.PAUSED);
    const held = await hostResources(t!);
    assert.deepEqual({ runcState: held.runcState, cgroups: held.cgroups }, { runcState: [], cgroups: [] }, 'no sandbox left from the failed restore');
    assert.equal((await t!.client.resume({ capsuleId: id })).capsule?.status, CapsuleStatus.RUNNING);
    const values = await waitForLine(t!, id, '/tmp/counter.log', 0, 5);
    assert.deepEqual(values, values.map((_, i) => i + 1), 'the counter went on from its snapshot');
    await t!.client.destroy({ capsuleId: id });
  });
});
