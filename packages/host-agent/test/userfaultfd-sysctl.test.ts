/**
 * Who puts vm.unprivileged_userfaultfd back, across agent processes and kills. A plain file
 * stands in for the sysctl: turning the host's real one on and off here would pull it from
 * under the lazy restores of test files running at the same time (the logic under test is
 * the bookkeeping around the file, the same for both). The state dir and the holder
 * processes are real.
 */
import { test, describe, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { enableUnprivilegedUserfaultfd } from '../src/infra/criu/userfaultfd-sysctl.js';
import { TEST_CACHE } from './agent-harness.js';

const MODULE = join(import.meta.dirname, '../src/infra/criu/userfaultfd-sysctl.ts');

describe('vm.unprivileged_userfaultfd ownership', () => {
  let dir: string;
  let opts: { sysctlPath: string; stateDir: string };
  const children: ChildProcess[] = [];
  const sysctl = () => readFileSync(opts.sysctlPath, 'utf8').trim();

  /** Another agent process holding the sysctl; resolves once it has enabled it. */
  async function holderProcess(): Promise<ChildProcess> {
    const code = `const m = await import(${JSON.stringify(MODULE)}); await m.enableUnprivilegedUserfaultfd(${JSON.stringify(opts)}); console.log('ready'); setInterval(() => {}, 1000);`;
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
    children.push(child);
    await new Promise<void>((resolve, reject) => {
      child.stdout!.on('data', (b: Buffer) => b.toString().includes('ready') && resolve());
      child.once('exit', (c) => reject(new Error(`holder exited early (${c})`)));
    });
    return child;
  }

  async function kill(child: ChildProcess): Promise<void> {
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await exited;
  }

  beforeEach(() => {
    dir = mkdtempSync(join(TEST_CACHE, 'uffd-'));
    opts = { sysctlPath: join(dir, 'sysctl'), stateDir: join(dir, 'state') };
    writeFileSync(opts.sysctlPath, '0\n');
  });
  afterEach(async () => {
    for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) await kill(c);
    rmSync(dir, { recursive: true, force: true });
  });

  test('an agent that turned it on turns it off when it closes; a second agent in the process keeps it on until it closes too', async () => {
    const a = await enableUnprivilegedUserfaultfd(opts);
    assert.equal(a.changed, true);
    assert.equal(sysctl(), '1');
    const b = await enableUnprivilegedUserfaultfd(opts);
    assert.equal(b.changed, false);
    await a.release();
    assert.equal(sysctl(), '1', 'still needed by b');
    await b.release();
    await b.release();
    assert.equal(sysctl(), '0');
  });

  test('left on by an agent that was killed: the next agent puts it back when it closes', async () => {
    await kill(await holderProcess());
    assert.equal(sysctl(), '1', 'the killed agent left it on');
    const next = await enableUnprivilegedUserfaultfd(opts);
    assert.equal(next.changed, false);
    await next.release();
    assert.equal(sysctl(), '0');
  });

  test('another live agent process keeps it on; the last one to close turns it off', async () => {
    const other = await holderProcess();
    const here = await enableUnprivilegedUserfaultfd(opts);
    await here.release();
    assert.equal(sysctl(), '1', 'the other agent still relies on it');
    await kill(other);
    const later = await enableUnprivilegedUserfaultfd(opts);
    await later.release();
    assert.equal(sysctl(), '0');
  });

  test('on before any agent (the host set it), or recorded in an earlier boot: left on', async () => {
    writeFileSync(opts.sysctlPath, '1\n');
    const g = await enableUnprivilegedUserfaultfd(opts);
    assert.equal(g.changed, false);
    await g.release();
    assert.equal(sysctl(), '1');

    writeFileSync(join(opts.stateDir, 'previous'), '0 a-boot-long-ago\n');
    const h = await enableUnprivilegedUserfaultfd(opts);
    await h.release();
    assert.equal(sysctl(), '1');
  });
});
