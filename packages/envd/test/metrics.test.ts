import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, readFileSync, rmdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { startEnvd, type TestEnvd } from './harness.js';
import { locateCgroup, parseProcCgroup } from '../src/metrics/cgroup-layout.js';
import type { EnvdMetrics } from '../src/metrics/collector.js';

const MIB = 1024 * 1024;
const CGROUP_V1 = '/sys/fs/cgroup';
const name = `wrenn-envd-test-${process.pid}-${randomBytes(4).toString('hex')}`;
const memoryDir = join(CGROUP_V1, 'memory', name);
const cpuacctDir = join(CGROUP_V1, 'cpuacct', name);
const cpuDir = join(CGROUP_V1, 'cpu', name);

/** A process living in the test cgroups that allocates memory or burns CPU on command. */
interface Workload {
  readonly child: ChildProcess;
  command(line: string): Promise<void>;
  stop(): Promise<void>;
}

async function startWorkload(): Promise<Workload> {
  const script = `
    const held = [];
    require('node:readline').createInterface({ input: process.stdin }).on('line', (line) => {
      const [cmd, arg] = line.split(' ');
      if (cmd === 'alloc') held.push(Buffer.alloc(Number(arg) * 1024 * 1024, 1));
      if (cmd === 'spin') { const end = Date.now() + Number(arg); while (Date.now() < end); }
      process.stdout.write('done\\n');
    });
    process.stdout.write('ready\\n');
  `;
  const child = spawn(process.execPath, ['-e', script], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout! });
  const replies: Array<() => void> = [];
  lines.on('line', () => replies.shift()?.());
  await new Promise<void>((resolve) => replies.push(resolve)); // "ready"
  return {
    child,
    command: (line) =>
      new Promise<void>((resolve) => {
        replies.push(resolve);
        child.stdin!.write(`${line}\n`);
      }),
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = once(child, 'exit');
      child.kill('SIGKILL');
      await exited;
    },
  };
}

/** rmdir of a cgroup succeeds once the kernel has detached the exited process. */
async function removeCgroup(dir: string): Promise<void> {
  for (let i = 0; ; i++) {
    try {
      rmdirSync(dir);
      return;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return;
      if (code !== 'EBUSY' || i > 100) throw err;
      await new Promise((r) => setTimeout(r, 20));
    }
  }
}

describe('envd /metrics in a real cgroup v1', () => {
  let t: TestEnvd;
  let layout: string;
  let diskPath: string;
  let workload: Workload | undefined;

  before(async () => {
    for (const dir of [memoryDir, cpuacctDir, cpuDir]) mkdirSync(dir);
    writeFileSync(join(memoryDir, 'memory.limit_in_bytes'), String(256 * MIB));
    writeFileSync(join(cpuDir, 'cpu.cfs_period_us'), '100000');
    writeFileSync(join(cpuDir, 'cpu.cfs_quota_us'), '100000'); // one core
    // The capsule's view: its own cgroup appears as the controller mounts under the root.
    layout = mkdtempSync(join(tmpdir(), 'wrenn-cgroup-view-'));
    symlinkSync(memoryDir, join(layout, 'memory'));
    symlinkSync(cpuacctDir, join(layout, 'cpuacct'));
    symlinkSync(cpuDir, join(layout, 'cpu'));
    diskPath = tmpdir();
    t = await startEnvd({ env: { WRENN_ENVD_CGROUP_ROOT: layout, WRENN_ENVD_DISK_PATH: diskPath } });
    workload = await startWorkload();
    for (const dir of [memoryDir, cpuacctDir, cpuDir]) writeFileSync(join(dir, 'cgroup.procs'), String(workload.child.pid));
  });

  after(async () => {
    try {
      await workload?.stop();
      await t?.close();
    } finally {
      for (const dir of [memoryDir, cpuacctDir, cpuDir]) await removeCgroup(dir);
      if (layout) rmSync(layout, { recursive: true, force: true });
    }
  });

  async function metrics(): Promise<EnvdMetrics> {
    const res = await t.fetch('/metrics');
    assert.equal(res.status, 200);
    return (await res.json()) as EnvdMetrics;
  }

  test('the body has every field, ts in unix seconds', async () => {
    const m = await metrics();
    for (const key of ['ts', 'cpu_count', 'cpu_used_pct', 'mem_total', 'mem_used', 'disk_used', 'disk_total'] as const) {
      assert.equal(typeof m[key], 'number', key);
    }
    assert.ok(Math.abs(m.ts - Date.now() / 1000) < 5);
  });

  test('mem_total is the cgroup memory limit, not the machine memory', async () => {
    assert.equal((await metrics()).mem_total, 256 * MIB);
  });

  test('mem_used follows the memory a process in the cgroup allocates', async () => {
    const before = (await metrics()).mem_used;
    assert.ok(before < 32 * MIB, `an idle cgroup reports ${before} bytes used`);
    await workload!.command('alloc 64');
    const after = (await metrics()).mem_used;
    const grownMib = (after - before) / MIB;
    assert.ok(grownMib >= 60 && grownMib < 90, `mem_used grew by ${grownMib.toFixed(1)} MiB after a 64 MiB allocation`);
  });

  test('an unlimited cgroup reports the machine memory as mem_total', async () => {
    writeFileSync(join(memoryDir, 'memory.limit_in_bytes'), '-1');
    try {
      assert.equal((await metrics()).mem_total, totalmem());
    } finally {
      writeFileSync(join(memoryDir, 'memory.limit_in_bytes'), String(256 * MIB));
    }
  });

  /** CPU seconds the workload process has used so far (utime + stime, 100 ticks a second). */
  function workloadCpuSeconds(): number {
    const stat = readFileSync(`/proc/${workload!.child.pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  }

  test('cpu_count is the cgroup quota in cores, and cpu_used_pct is near 0 idle', async () => {
    const idle = await metrics();
    assert.equal(idle.cpu_count, 1);
    assert.ok(idle.cpu_used_pct < 10, `idle cgroup at ${idle.cpu_used_pct}%`);
  });

  test('cpu_used_pct between two calls matches the CPU time a spinning process in the cgroup used', async () => {
    const spinning = workload!.command('spin 1500');
    await new Promise((r) => setTimeout(r, 200));
    // The ground truth is the process's own CPU time over the same window (the machine may be
    // busy with other tests, so the spinner may get less than its one core).
    const cpuBefore = workloadCpuSeconds();
    const wallBefore = performance.now();
    await metrics(); // previous sample, taken while spinning
    await new Promise((r) => setTimeout(r, 600));
    const busy = await metrics();
    const expectedPct = ((workloadCpuSeconds() - cpuBefore) / ((performance.now() - wallBefore) / 1000)) * 100;
    await spinning;
    assert.ok(expectedPct > 20, `the spinner got only ${expectedPct.toFixed(1)}% of a core; cannot compare`);
    assert.ok(
      Math.abs(busy.cpu_used_pct - expectedPct) < 20,
      `reported ${busy.cpu_used_pct}% while the process used ${expectedPct.toFixed(1)}% of the one allowed core`,
    );
  });

  test('disk_total and disk_used are those of the configured filesystem', async () => {
    const m = await metrics();
    const [size, used] = execFileSync('df', ['-B1', '--output=size,used', diskPath], { encoding: 'utf8' })
      .trim()
      .split('\n')[1]!
      .trim()
      .split(/\s+/)
      .map(Number);
    assert.equal(m.disk_total, size);
    assert.ok(Math.abs(m.disk_used - used!) < 0.01 * size!, `disk_used ${m.disk_used} vs df ${used}`);
  });

  test('host layout: the memory cgroup named in /proc/<pid>/cgroup is found under the cgroup root', async () => {
    const procCgroup = `/proc/${workload!.child.pid}/cgroup`;
    const entry = parseProcCgroup(readFileSync(procCgroup, 'utf8')).find((e) => e.controllers.includes('memory'));
    assert.equal(entry?.path, `/${name}`);
    const found = await locateCgroup(CGROUP_V1, procCgroup);
    assert.equal(found?.version, 1);
    assert.deepEqual(found, { version: 1, memoryDir, cpuacctDir, cpuDir });
  });
});
