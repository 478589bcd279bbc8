/**
 * Tools run through the spawn helper (infra/spawn): same results as a direct spawn (output,
 * input, exit codes, missing tools, deadlines reaching a whole process group), started by
 * the helper rather than by this process, and a helper that dies fails only the runs it
 * had in flight.
 */
import { test, describe, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { WrennError } from '@wrenn/shared';
import { run } from '../src/infra/exec.js';
import { Spawner } from '../src/infra/spawn/spawner.js';

/** Parent pid of `pid`, from /proc. */
function ppid(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
}

describe('spawn helper', () => {
  afterEach(() => {
    delete process.env.WRENN_SPAWN_HELPER;
  });

  test('a tool gets its input and arguments, and its output, exit code and missing-tool error come back', async () => {
    assert.deepEqual(await run('echo', ['a b', 'c']), { code: 0, signal: null, stdout: 'a b c\n', stderr: '' });
    const r = await run('sh', ['-c', 'cat; echo oops >&2; exit 3'], { input: 'fed in', allowFailure: true });
    assert.deepEqual(r, { code: 3, signal: null, stdout: 'fed in', stderr: 'oops\n' });
    await assert.rejects(run('sh', ['-c', 'exit 4']), /exit code 4/);
    await assert.rejects(run('wrenn-no-such-tool', []), (err: unknown) => err instanceof WrennError && err.code === 'failed_precondition');
    const chunks: string[] = [];
    await run('sh', ['-c', 'echo one; sleep 0.05; echo two'], { onStdout: (b) => chunks.push(b.toString()) });
    assert.deepEqual(chunks, ['one\n', 'two\n']);
  });

  test('tools are the helper\'s children, not this process\'s; with WRENN_SPAWN_HELPER=off they are this process\'s', async () => {
    const viaHelper = Number((await run('sh', ['-c', 'echo $PPID'])).stdout.trim());
    assert.equal(viaHelper, Spawner.shared()!.helperPid);
    assert.notEqual(viaHelper, process.pid);
    process.env.WRENN_SPAWN_HELPER = 'off';
    assert.equal(Number((await run('sh', ['-c', 'echo $PPID'])).stdout.trim()), process.pid);
  });

  test('a deadline kills the tool and, with processGroup, what it started', async () => {
    const started = Date.now();
    let grandchild = 0;
    await assert.rejects(
      run('sh', ['-c', 'sleep 30 & echo $!; wait'], {
        timeoutMs: 300,
        processGroup: true,
        onStdout: (b) => (grandchild ||= Number(b.toString().trim())),
      }),
      (err: unknown) => err instanceof WrennError && err.code === 'deadline_exceeded',
    );
    assert.ok(Date.now() - started < 5000);
    assert.ok(grandchild > 0);
    for (let i = 0; i < 100 && existsSync(`/proc/${grandchild}`) && !/^State:\s+Z/m.test(readFileSync(`/proc/${grandchild}/status`, 'utf8')); i++) {
      await new Promise((r) => setTimeout(r, 10));
    }
    const gone = !existsSync(`/proc/${grandchild}`) || /^State:\s+Z/m.test(readFileSync(`/proc/${grandchild}/status`, 'utf8'));
    assert.ok(gone, 'the sleep the tool started was killed with its group');
    const aborted = new AbortController();
    setTimeout(() => aborted.abort(), 100);
    await assert.rejects(run('sleep', ['30'], { signal: aborted.signal }), (err: unknown) => err instanceof WrennError && err.code === 'canceled');
  });

  test('a helper that dies fails the runs it had in flight; the next run starts a new helper', async () => {
    await run('true', []);
    const first = Spawner.shared()!.helperPid!;
    let orphan = 0;
    const inFlight = run('sh', ['-c', 'echo $$; exec sleep 30'], { onStdout: (b) => (orphan ||= Number(b.toString().trim())) });
    while (!orphan) await new Promise((r) => setTimeout(r, 10));
    process.kill(first, 'SIGKILL');
    await assert.rejects(inFlight, /spawn helper exited/);
    process.kill(orphan, 'SIGKILL'); // outlived its helper, as any tool outlives a dead parent
    assert.equal((await run('echo', ['again'])).stdout, 'again\n');
    assert.notEqual(Spawner.shared()!.helperPid, first);
    assert.equal(ppid(Spawner.shared()!.helperPid!), process.pid);
  });
});
