/**
 * envd survives the capsule's own code, and a capsule never says `running` without it:
 * - envd and the capsule's init are unkillable by the OOM killer (-1000, set by the agent
 *   from outside) where the agent has CAP_SYS_RESOURCE, else at the capsule default (500);
 *   the processes envd starts are the OOM killer's first choice (1000) either way;
 * - a fork bomb and a memory bomb inside a real capsule: afterwards exec works again, and
 *   envd was never restarted (it survived);
 * - envd killed: the agent starts the capsule again on its disk (files kept), the record
 *   counts the restart and says why;
 * - envd that keeps dying: the capsule becomes `error` with the reason.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { readFileSync } from 'node:fs';
import { CapsuleStatus } from '@wrenn/proto/hostagent';
import { sharedTemplates, startTestAgent, newCapsuleId, text, type TestAgent } from './agent-harness.js';

async function until<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
    await sleep(200);
  }
}

/** CAP_SYS_RESOURCE (bit 24) in this process's effective set: the agent (in this process) may lower OOM scores. */
const MAY_LOWER_SCORES = (BigInt('0x' + /CapEff:\s*([0-9a-f]+)/.exec(readFileSync('/proc/self/status', 'utf8'))![1]!) >> 24n) & 1n ? true : false;
const ENVD_SCORE = MAY_LOWER_SCORES ? -1000 : 500;

describe('envd protected and supervised', () => {
  let t: TestAgent;

  before(async () => {
    await sharedTemplates();
    // 512 processes per capsule: the bomb's uid stops at 448 (the reserve is 64), before
    // 512 MB of memory runs out, so it stalls instead of thrashing a shared test machine.
    t = await startTestAgent({ env: { WRENN_PIDS_MAX: '512' } });
  });

  after(async () => {
    await t?.close();
  });

  async function running(memoryMb = 256): Promise<string> {
    const id = newCapsuleId('cl-sup');
    const res = await t.client.create({ capsuleId: id, template: 'minimal', vcpus: 1, memoryMb });
    assert.equal(res.capsule?.status, CapsuleStatus.RUNNING);
    return id;
  }

  /** oom_score_adj of PID 1 (init), of envd (the shell's parent) and of a process envd started. */
  async function scores(id: string): Promise<number[]> {
    const r = await t.client.exec({ capsuleId: id, cmd: '/bin/sh', args: ['-c', 'cat /proc/1/oom_score_adj /proc/$PPID/oom_score_adj /proc/self/oom_score_adj'], user: 'root' });
    return text(r.stdout).trim().split('\n').map(Number);
  }

  async function execWorks(id: string): Promise<boolean> {
    const r = await t.client.exec({ capsuleId: id, cmd: '/bin/echo', args: ['alive'], timeoutSec: 10 });
    return r.exitCode === 0 && text(r.stdout) === 'alive\n';
  }

  test(`init and envd are at ${ENVD_SCORE}, the processes envd starts at 1000`, async () => {
    const id = await running();
    const s = await until('envd protected', async () => {
      const v = await scores(id);
      return v[1] === ENVD_SCORE ? v : undefined;
    }, 10_000);
    assert.deepEqual(s, [ENVD_SCORE, ENVD_SCORE, 1000]);
  });

  test('a fork bomb, then a memory bomb: envd survives both, exec works again, envd was never restarted', async () => {
    const id = await running(512);
    await until('envd protected', async () => ((await scores(id))[1] === ENVD_SCORE ? true : undefined), 10_000);
    // The issue's bomb, as the capsule's default user. `timeout` does not end it: the first
    // function call backgrounds the rest and returns at once, so the bomb outlives it.
    // Output to /dev/null: the bomb must not hold the exec's pipes open.
    const bomb = await t.client.exec({ capsuleId: id, cmd: '/bin/bash', args: ['-c', "timeout 10 bash -c ':(){ :|:& };:' >/dev/null 2>&1; echo started"], timeoutSec: 30 });
    assert.match(text(bomb.stdout), /started/);
    try {
      // While it runs: envd answers, and root inside (the uid envd runs as) still gets
      // processes from the reserve the bomb's uid cannot take (RLIMIT_NPROC).
      const root = await until('exec as root during the fork bomb', async () => {
        const r = await t.client.exec({ capsuleId: id, cmd: '/bin/sh', args: ['-c', 'ls /proc | grep -c "^[0-9]"'], user: 'root', timeoutSec: 10 });
        const n = Number(text(r.stdout).trim());
        // The bomb has taken what its uid may have (448 of 512).
        return r.exitCode === 0 && n > 400 ? n : undefined;
      }, 30_000);
      assert.ok(root <= 512);
    } finally {
      // Ended from inside as root: kill(-1) with the bomb's uid reaches exactly its processes,
      // repeated until none is left (a process forking at that moment may escape one round).
      const killer = 'import os,signal\nos.setuid(1000)\nwhile True:\n  try: os.kill(-1, signal.SIGKILL)\n  except ProcessLookupError: break';
      await until('the bomb ended', async () => {
        await t.client.exec({ capsuleId: id, cmd: '/usr/bin/python3', args: ['-c', killer], user: 'root', timeoutSec: 30 });
        const left = await t.client.exec({ capsuleId: id, cmd: '/usr/bin/pgrep', args: ['-c', '-u', '1000'], user: 'root', timeoutSec: 10 });
        return text(left.stdout).trim() === '0' ? true : undefined;
      }, 60_000);
    }
    assert.ok(await until('exec as the default user after the fork bomb', async () => ((await execWorks(id)) ? true : undefined), 30_000));
    const memory = await t.client.exec({ capsuleId: id, cmd: '/bin/sh', args: ['-c', 'head -c 4000M /dev/zero | tail; echo "tail=$?"'], timeoutSec: 60 });
    assert.match(text(memory.stdout), /tail=137/, 'the memory bomb itself is what the OOM killer ended');
    assert.ok(await execWorks(id));
    const capsule = (await t.client.get({ capsuleId: id })).capsule!;
    assert.equal(capsule.status, CapsuleStatus.RUNNING);
    assert.equal(capsule.restarts, 0, `envd was restarted: ${capsule.lastRestartReason}`);
  });

  test('envd killed: the capsule is started again on its disk and its record says so', async () => {
    const id = await running();
    await t.client.exec({ capsuleId: id, cmd: '/bin/sh', args: ['-c', 'echo kept > /home/wrenn-user/marker'] });
    await t.client.exec({ capsuleId: id, cmd: '/bin/sh', args: ['-c', 'kill -9 $PPID'], user: 'root' }).catch(() => {});
    const capsule = await until('the restart', async () => {
      const c = (await t.client.get({ capsuleId: id })).capsule!;
      return c.restarts === 1 && c.status === CapsuleStatus.RUNNING ? c : undefined;
    }, 30_000);
    assert.match(capsule.lastRestartReason, /envd \(pid \d+\) exited/);
    assert.ok(capsule.lastRestartAtMs > 0n);
    const r = await t.client.exec({ capsuleId: id, cmd: '/bin/cat', args: ['/home/wrenn-user/marker'] });
    assert.equal(text(r.stdout), 'kept\n');
    assert.deepEqual((await scores(id)).slice(1), [ENVD_SCORE, 1000], 'the new envd is protected too');
  });

  test('envd that keeps dying: the capsule becomes error with the reason, never a silent running', async () => {
    const id = await running();
    for (let i = 1; i <= 4; i++) {
      await until(`envd #${i} up`, async () => ((await execWorks(id)) ? true : undefined), 30_000);
      await t.client.exec({ capsuleId: id, cmd: '/bin/sh', args: ['-c', 'kill -9 $PPID'], user: 'root' }).catch(() => {});
      if (i < 4) await until(`restart #${i}`, async () => ((await t.client.get({ capsuleId: id })).capsule!.restarts === i ? true : undefined), 30_000);
    }
    const capsule = await until('error', async () => {
      const c = (await t.client.get({ capsuleId: id })).capsule!;
      return c.status === CapsuleStatus.ERROR ? c : undefined;
    }, 30_000);
    assert.match(capsule.error, /envd \(pid \d+\) exited; it could not be started again: it died 4 times within 60 s/);
    await t.client.destroy({ capsuleId: id });
  });
});
