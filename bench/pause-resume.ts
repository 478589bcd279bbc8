/**
 * Pause/resume benchmark, through the host agent's RPC API as the control plane uses it.
 * For capsules holding 64 MB and 512 MB of touched memory (a python process):
 *  - pause time (RPC), snapshot size vs the capsule's RSS;
 *  - resume time (RPC) and resume → first `echo` result, eager and lazy restore;
 *  - two same-run baselines for the resume:
 *    1. "raw tree": raw `criu dump` / `criu restore` of the same python program outside the
 *       platform (`unshare --pid --fork setsid python3`: one process in its own pid
 *       namespace; no user, mount, net or ipc namespace, no tmpfs, no cgroups, no envd).
 *       A simpler tree than a capsule: it bounds what CRIU itself needs for the memory;
 *    2. "raw image": raw `criu restore` of the capsule's own pause image, taken by the agent
 *       in the same run, with the options runc gives CRIU (lib/raw-image-restore.ts): the same
 *       tree (tini, envd, python), namespaces, mounts, tmpfs contents and cgroups, without
 *       runc, the agent, network plumbing and envd /init. The fair comparison: the platform's
 *       overhead is its resume minus this;
 *  - one same-run baseline for the pause:
 *    3. "raw tree dump": raw `criu dump` of a capsule's own tree (tini, envd, python), made
 *       and filled like the platform's, with the options runc gives CRIU for the agent's
 *       checkpoint (lib/raw-tree-dump.ts): same namespaces, mounts, cgroups, memory and
 *       network-lock choice, without runc, the agent, the drain, envd's prepare and the
 *       cgroup freeze (CRIU freezes the tree itself). A new capsule each run, destroyed
 *       after (checked to leave nothing behind); once per size (the first mode's agent).
 *       The fair comparison: the platform's pause overhead is its pause minus this;
 *  - and, for the pause, CRIU's own account of the very dump the agent's pause made
 *    (its `stats-dump`, lib/criu-stats.ts: freezing + frozen time, the frozen time holding
 *    the memory dump and write), beside the agent's phase marks and runc's wall time (from
 *    the agent's log records), and CRIU's `stats-restore` of the agent's and the raw resume;
 *  - snapshot templates: Snapshot of the running capsule (it keeps running) and Create of a
 *    new capsule from the template → its first `echo` result.
 * Lazy restore needs vm.unprivileged_userfaultfd=1 for capsules; the script sets it for its
 * run and puts the old value back. The agent installs CRIU's kernel-feature cache
 * (/run/criu.kdat) where /run is not a tmpfs, so the raw baselines, run after it, have it too.
 *
 *   sudo npx tsx bench/pause-resume.ts [--runs 3] [--sizes 64,512] [--modes eager,lazy] [--no-templates]
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { hr, summary, table } from './lib/stats.js';
import { TEST_CACHE, hostResources, newCapsuleId, sharedTemplates, startTestAgent, type TestAgent } from '../packages/host-agent/test/agent-harness.js';
import { run } from '../packages/host-agent/src/infra/exec.js';
import { CRIU_WRAPPER } from '../packages/host-agent/src/infra/criu/criu-probe.js';
import { rawImageRestore } from './lib/raw-image-restore.js';
import { rawTreeDump } from './lib/raw-tree-dump.js';
import { criuLogSpanMs, readDumpStats, readRestoreStats, type RestoreStats } from './lib/criu-stats.js';
import { createLogger } from '@wrenn/shared';

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '3' },
    sizes: { type: 'string', default: '64,512' },
    modes: { type: 'string', default: 'eager,lazy' },
    'no-templates': { type: 'boolean', default: false },
  },
});
const RUNS = Number(values.runs);
const SIZES = values.sizes!.split(',').map(Number);
const MODES = values.modes!.split(',').filter((m): m is 'eager' | 'lazy' => m === 'eager' || m === 'lazy');
const SYSCTL = '/proc/sys/vm/unprivileged_userfaultfd';

/** Holds `mb` MB of non-zero memory and writes "ready" to argv[2] once touched. */
const HOLD_PY = [
  'import os, sys, time',
  'chunk = os.urandom(1 << 20)',
  'held = [bytearray(chunk) for _ in range(int(sys.argv[1]))]',
  'open(sys.argv[2], "w").write("ready")',
  'while True: time.sleep(1)',
].join('\n');

async function timeIt<T>(fn: () => Promise<T>): Promise<[number, T]> {
  const t0 = process.hrtime.bigint();
  const v = await fn();
  return [hr(process.hrtime.bigint() - t0), v];
}

/** Median of the numbers that are there (NaN: not measured in that run). */
const median = (xs: number[]) => {
  const present = xs.filter((x) => !Number.isNaN(x));
  return present.length > 0 ? summary(present).p50 : NaN;
};
const mb = (bytes: number) => Math.round(bytes / 1048576);

/** The agent's log records the bench reads (phase marks of pauses and resumes, runc timings). */
type LogRecord = Record<string, unknown> & { msg?: string; capsuleId?: string };
const KEPT = new Set(['capsule paused', 'paused capsule released', 'sandbox checkpointed', 'capsule resumed', 'sandbox restored']);
const records: LogRecord[] = [];
const benchLogger = createLogger(
  { name: 'bench-agent', level: 'info' },
  {
    write(line: string) {
      const r = JSON.parse(line) as LogRecord;
      if (r.msg && KEPT.has(r.msg)) records.push(r);
    },
  },
);
/** The latest record `msg` of capsule `id` (the runtime id is the capsule id here). */
function lastRecord(msg: string, id: string): LogRecord {
  for (let i = records.length - 1; i >= 0; i--) if (records[i]!.msg === msg && records[i]!.capsuleId === id) return records[i]!;
  throw new Error(`no '${msg}' log record for ${id}`);
}
/** CRIU's stats-restore of each capsule's last resume, read just before the agent removes the image. */
const restoreStatsSeen = new Map<string, RestoreStats>();
function keepRestoreStats(t: TestAgent): void {
  const snapshots = t.agent.manager.pauser!.snapshots;
  const removeMemory = snapshots.removeMemory.bind(snapshots);
  snapshots.removeMemory = async (runtimeId: string) => {
    const stats = readRestoreStats(snapshots.memoryDir(runtimeId));
    if (stats) restoreStatsSeen.set(runtimeId, stats);
    return removeMemory(runtimeId);
  };
}
const n = (v: unknown) => (typeof v === 'number' ? v : NaN);

/** RSS of every process in the capsule's cgroup (kB → bytes). */
function capsuleRssBytes(t: TestAgent, runtimeId: string): number {
  for (const ctrl of ['memory', 'pids', 'unified']) {
    const procs = join('/sys/fs/cgroup', ctrl, t.cgroupParent, runtimeId, 'cgroup.procs');
    if (!existsSync(procs)) continue;
    let kb = 0;
    for (const pid of readFileSync(procs, 'utf8').split('\n').filter(Boolean)) {
      try {
        kb += Number(/^VmRSS:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
      } catch {
        // exited
      }
    }
    return kb * 1024;
  }
  return 0;
}

interface PlatformRow {
  memMb: number;
  mode: string;
  rssMb: number;
  snapshotMb: number;
  ratio: number;
  pauseMs: number;
  resumeMs: number;
  resumeToExecMs: number;
  /** Raw `criu restore` of the same pause image (baseline 2). */
  rawImageRestoreMs: number;
  /** Pause: the agent's marks and CRIU's own account of the same dump (medians). */
  pauseSplit: PauseSplit;
  /** CRIU's restore_time (stats-restore) of the agent's resume and of baseline 2's restore. */
  criuRestoreMs: number;
  rawCriuRestoreMs: number;
}

interface PauseSplit {
  /** The agent's own pause total (log), RPC excluded. */
  agentMs: number;
  /** Watchers stopped, snapshot dir prepared. */
  setupMs: number;
  drainMs: number;
  prepareMs: number;
  freezeMs: number;
  /** The agent's checkpoint phase: runc prep (network inventory, CRIU config) + runc + chmod. */
  checkpointMs: number;
  runcMs: number;
  /** CRIU's dump.log first → last line (CRIU process lifetime minus exec). */
  criuLogMs: number;
  /** CRIU stats-dump: freezing_time + frozen_time (memdump and memwrite inside frozen). */
  criuDumpMs: number;
  memdumpMs: number;
  memwriteMs: number;
  /** After the reply (not in agentMs): the release and its steps, side by side: runc delete, network unplumb, rootfs unmount. */
  releaseMs: number;
  relRuntimeMs: number;
  relNetworkMs: number;
  relRootfsMs: number;
  /** Image size summed, snapshot metadata and capsule record written. */
  metadataMs: number;
  /** Pauses (of the runs) whose dump locked the network: connections in the image. */
  lockedRuns: number;
}

/** Starts the python that touches `memMb` of memory in capsule `id`, and waits until it has. */
async function holdMemory(t: TestAgent, id: string, memMb: number): Promise<void> {
  await t.client.startBackground({ capsuleId: id, cmd: 'python3', args: ['-c', HOLD_PY, String(memMb), '/tmp/ready'], tag: 'hold' });
  for (let i = 0; i < 600; i++) {
    const r = await t.client.exec({ capsuleId: id, cmd: 'cat', args: ['/tmp/ready'] });
    if (Buffer.from(r.stdout).toString() === 'ready') return;
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function platform(t: TestAgent, memMb: number, mode: 'eager' | 'lazy'): Promise<PlatformRow> {
  const id = newCapsuleId('bench-p');
  await t.client.create({ capsuleId: id, template: 'minimal', vcpus: 1, memoryMb: memMb * 2 + 256 });
  try {
    await holdMemory(t, id, memMb);
    const pause: number[] = [];
    const resume: number[] = [];
    const toExec: number[] = [];
    const rawImage: number[] = [];
    const splits: PauseSplit[] = [];
    const criuRestore: number[] = [];
    const rawCriuRestore: number[] = [];
    let rss = 0;
    let size = 0;
    for (let i = 0; i < RUNS; i++) {
      await t.agent.manager.pauser!.settled();
      rss = capsuleRssBytes(t, id);
      pause.push((await timeIt(() => t.client.pause({ capsuleId: id })))[0]);
      size = await t.agent.manager.pauser!.snapshots.memoryBytes(id);
      const imageDir = t.agent.manager.pauser!.snapshots.memoryDir(id);
      // The agent releases the paused capsule's mounts and network after its reply (its
      // record read below; baseline 2 mounts the same rootfs): waited for, untimed.
      await t.agent.manager.pauser!.settledFor(id);
      const paused = lastRecord('capsule paused', id);
      const released = lastRecord('paused capsule released', id);
      const ckpt = lastRecord('sandbox checkpointed', id);
      const stats = readDumpStats(imageDir);
      if (!stats) throw new Error(`no stats-dump in ${imageDir}`);
      splits.push({
        agentMs: n(paused.durationMs),
        setupMs: n(paused.setupMs),
        drainMs: n(paused.drainMs),
        prepareMs: n(paused.prepareMs),
        freezeMs: n(paused.freezeMs),
        checkpointMs: n(paused.checkpointMs),
        runcMs: n(ckpt.runcMs),
        criuLogMs: criuLogSpanMs(join(imageDir, 'dump.log')) ?? NaN,
        criuDumpMs: (stats.freezingUs + stats.frozenUs) / 1000,
        memdumpMs: stats.memdumpUs / 1000,
        memwriteMs: stats.memwriteUs / 1000,
        releaseMs: n(released.releaseMs),
        relRuntimeMs: n(released.release_runtimeMs),
        relNetworkMs: n(released.release_networkMs),
        relRootfsMs: n(released.release_rootfsMs),
        metadataMs: n(paused.metadataMs),
        lockedRuns: ckpt.networkLocked === true ? 1 : 0,
      });
      // An image holding connections (network locked) cannot be restored without the
      // capsule's network, which baseline 2 does not plumb: not measured for that run.
      const raw = await rawImageRestore(t, id, mode).catch((err: unknown) => {
        if (ckpt.networkLocked !== true) throw err;
        console.error(`baseline 2 skipped for a pause of ${id}: its image holds connections (${(err as Error).message.slice(0, 120)})`);
        return { ms: NaN, criuRestoreMs: NaN };
      });
      rawImage.push(raw.ms);
      rawCriuRestore.push(raw.criuRestoreMs);
      const [total, resumeMs] = await timeIt(async () => {
        const [ms] = await timeIt(() => t.client.resume({ capsuleId: id }));
        const r = await t.client.exec({ capsuleId: id, cmd: 'echo', args: ['hi'] });
        if (Buffer.from(r.stdout).toString() !== 'hi\n') throw new Error('bad echo');
        return ms;
      });
      resume.push(resumeMs);
      toExec.push(total);
      // The agent removes the image once restored (lazy: once every page is served); the
      // wrapper in main() read CRIU's stats-restore before.
      await t.agent.manager.pauser!.settledFor(id);
      criuRestore.push((restoreStatsSeen.get(id)?.restoreUs ?? NaN) / 1000);
      restoreStatsSeen.delete(id);
    }
    return {
      memMb,
      mode,
      rssMb: mb(rss),
      snapshotMb: mb(size),
      ratio: size / Math.max(rss, 1),
      pauseMs: median(pause),
      resumeMs: median(resume),
      resumeToExecMs: median(toExec),
      rawImageRestoreMs: median(rawImage),
      pauseSplit: Object.fromEntries(
        (Object.keys(splits[0]!) as Array<keyof PauseSplit>).map((k) =>
          [k, k === 'lockedRuns' ? splits.reduce((a, s) => a + s.lockedRuns, 0) : median(splits.map((s) => s[k]))],
        ),
      ) as unknown as PauseSplit,
      criuRestoreMs: median(criuRestore),
      rawCriuRestoreMs: median(rawCriuRestore),
    };
  } finally {
    await t.agent.manager.pauser!.settled();
    await t.client.destroy({ capsuleId: id }).catch(() => {});
  }
}

interface SnapshotRow {
  memMb: number;
  mode: string;
  snapshotMs: number;
  createToExecMs: number;
  templateMb: number;
}

/** Snapshot of a running capsule, then new capsules from the template (each destroyed after). */
async function snapshotTemplate(t: TestAgent, memMb: number, mode: 'eager' | 'lazy'): Promise<SnapshotRow> {
  const id = newCapsuleId('bench-s');
  const name = `bench-${process.pid}-${memMb}-${mode}`;
  await t.client.create({ capsuleId: id, template: 'minimal', vcpus: 1, memoryMb: memMb * 2 + 256 });
  const snapshots: number[] = [];
  const creates: number[] = [];
  let templateBytes = 0;
  try {
    await holdMemory(t, id, memMb);
    for (let i = 0; i < RUNS; i++) {
      const [ms, res] = await timeIt(() => t.client.snapshot({ capsuleId: id, name, overwrite: true }));
      snapshots.push(ms);
      templateBytes = Number(res.template!.sizeBytes);
      const clone = newCapsuleId('bench-c');
      const [total] = await timeIt(async () => {
        await t.client.create({ capsuleId: clone, template: name });
        const r = await t.client.exec({ capsuleId: clone, cmd: 'echo', args: ['hi'] });
        if (Buffer.from(r.stdout).toString() !== 'hi\n') throw new Error('bad echo');
      });
      creates.push(total);
      await t.agent.manager.pauser!.settled();
      await t.client.destroy({ capsuleId: clone });
    }
    return { memMb, mode, snapshotMs: median(snapshots), createToExecMs: median(creates), templateMb: mb(templateBytes) };
  } finally {
    await t.agent.manager.pauser!.settled();
    await t.client.destroy({ capsuleId: id }).catch(() => {});
    await t.client.deleteTemplate({ name }).catch(() => {});
  }
}

interface RawRow {
  memMb: number;
  mode: string;
  imageMb: number;
  dumpMs: number;
  restoreMs: number;
}

/** Raw CRIU on the same python tree in its own pid namespace, no container around it. */
async function rawCriu(memMb: number, mode: 'eager' | 'lazy'): Promise<RawRow> {
  const dumps: number[] = [];
  const restores: number[] = [];
  let imageBytes = 0;
  for (let i = 0; i < RUNS; i++) {
    const dir = mkdtempSync(join(TEST_CACHE, `bench-raw-${process.pid}-`));
    const images = join(dir, 'images');
    const ready = join(dir, 'ready');
    const pidFile = join(dir, 'restored.pid');
    let restoredPid = 0;
    const holder = spawn('unshare', ['--pid', '--fork', 'setsid', 'python3', '-c', HOLD_PY, String(memMb), ready], { stdio: 'ignore' });
    try {
      while (!existsSync(ready)) await new Promise((r) => setTimeout(r, 50));
      // The python process: the only child of unshare (pid 1 of the new namespace).
      const pid = Number(readFileSync(`/proc/${holder.pid}/task/${holder.pid}/children`, 'utf8').trim());
      await run('mkdir', ['-p', images]);
      dumps.push((await timeIt(() => run(CRIU_WRAPPER, ['dump', '-t', String(pid), '-D', images, '-o', 'dump.log'])))[0]);
      imageBytes = readdirSync(images).reduce((a, f) => a + statSync(join(images, f)).size, 0);
      let lazyDaemon: ReturnType<typeof spawn> | undefined;
      // Taken at spawn: a 64 MB image is served before the restore's caller looks.
      let daemonExited: Promise<unknown> = Promise.resolve();
      const [ms] = await timeIt(async () => {
        if (mode === 'lazy') {
          lazyDaemon = spawn(CRIU_WRAPPER, ['lazy-pages', '-D', images, '-o', 'lazy.log'], { stdio: 'ignore' });
          const daemon = lazyDaemon;
          daemonExited = new Promise((r) => daemon.once('exit', r));
          while (!existsSync(join(images, 'lazy-pages.socket'))) await new Promise((r) => setTimeout(r, 2));
        }
        await run(CRIU_WRAPPER, ['restore', '-D', images, '-d', '--pidfile', pidFile, '-o', 'restore.log', ...(mode === 'lazy' ? ['--lazy-pages'] : [])]);
      });
      restores.push(ms);
      restoredPid = Number(readFileSync(pidFile, 'utf8').trim());
      await daemonExited;
    } finally {
      if (restoredPid > 0) process.kill(restoredPid, 'SIGKILL');
      if (holder.exitCode === null) holder.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    }
  }
  return { memMb, mode, imageMb: mb(imageBytes), dumpMs: median(dumps), restoreMs: median(restores) };
}

interface RawTreeDumpRow {
  memMb: number;
  mode: string;
  /** The criu process, spawn to exit. */
  rawDumpMs: number;
  /** Its stats-dump: freezing + frozen time. */
  rawCriuDumpMs: number;
  imageMb: number;
}

/**
 * Baseline 3: raw `criu dump` of a capsule's own tree (lib/raw-tree-dump.ts), a new capsule
 * each run, created and filled like platform()'s, destroyed after; checks that the destroy
 * after a dump the agent did not make leaves nothing of the capsule behind.
 */
async function rawTreeDumpRow(t: TestAgent, memMb: number, mode: string): Promise<RawTreeDumpRow> {
  const dumps: number[] = [];
  const criuDumps: number[] = [];
  let imageBytes = 0;
  for (let i = 0; i < RUNS; i++) {
    const id = newCapsuleId('bench-d');
    const before = new Set(Object.values(await hostResources(t)).flat());
    await t.client.create({ capsuleId: id, template: 'minimal', vcpus: 1, memoryMb: memMb * 2 + 256 });
    try {
      await holdMemory(t, id, memMb);
      const r = await rawTreeDump(t, id);
      dumps.push(r.ms);
      criuDumps.push(r.criuDumpMs);
      imageBytes = r.imageBytes;
    } finally {
      await t.client.destroy({ capsuleId: id });
    }
    // Mounts, loop devices, links, runc state, cgroups of the agent's that were not there before.
    const left = Object.values(await hostResources(t))
      .flat()
      .filter((r) => !before.has(r));
    if (left.length > 0) throw new Error(`destroy of ${id} after the raw dump left ${left.join(', ')}`);
  }
  return { memMb, mode, rawDumpMs: median(dumps), rawCriuDumpMs: median(criuDumps), imageMb: mb(imageBytes) };
}

async function main(): Promise<void> {
  await sharedTemplates();
  const sysctlBefore = readFileSync(SYSCTL, 'utf8').trim();
  const platformRows: PlatformRow[] = [];
  const rawRows: RawRow[] = [];
  const treeDumpRows: RawTreeDumpRow[] = [];
  const snapshotRows: SnapshotRow[] = [];
  try {
    writeFileSync(SYSCTL, '1');
    for (const mode of MODES) {
      const t = await startTestAgent({ env: { WRENN_LAZY_RESTORE: mode === 'lazy' ? 'auto' : 'off' }, logger: benchLogger });
      keepRestoreStats(t);
      try {
        for (const size of SIZES) {
          platformRows.push(await platform(t, size, mode));
          rawRows.push(await rawCriu(size, mode));
          // The dump does not depend on the restore mode: once per size.
          if (mode === MODES[0]) treeDumpRows.push(await rawTreeDumpRow(t, size, mode));
          if (!values['no-templates']) snapshotRows.push(await snapshotTemplate(t, size, mode));
        }
      } finally {
        await t.close();
      }
    }
  } finally {
    writeFileSync(SYSCTL, sysctlBefore);
  }
  console.log(`\npause/resume through the agent (median of ${RUNS}); rawImageRestoreMs: baseline 2, raw criu restore of the same pause image`);
  console.log(
    table(
      platformRows.map(({ pauseSplit: _s, criuRestoreMs: _c, rawCriuRestoreMs: _r, ...r }) => ({ ...r, ratio: Number(r.ratio.toFixed(2)) })),
    ),
  );
  console.log(`\nbaseline 1, raw criu of the same python program in its own pid namespace, a simpler tree (median of ${RUNS})`);
  console.log(table(rawRows.map((r) => ({ ...r }))));
  console.log(
    `\nbaseline 3: raw criu dump of the capsule's own tree (tini, envd, python), median of ${RUNS}; ` +
      'rawDumpMs: the criu process, rawCriuDumpMs: its stats-dump freezing + frozen time',
  );
  console.log(table(treeDumpRows.map((r) => ({ ...r }))));
  if (snapshotRows.length > 0) {
    console.log(`\nsnapshot templates: Snapshot (capsule keeps running) and Create from it → first exec (median of ${RUNS})`);
    console.log(table(snapshotRows.map((r) => ({ ...r }))));
  }
  console.log(
    '\nplatform overhead: agent pause − raw dump of the simpler tree (baseline 1) and of the same tree (baseline 3); ' +
      'agent resume − raw restore of the simpler tree (baseline 1) and of the same image (baseline 2)',
  );
  console.log(
    table(
      platformRows.map((p) => {
        const raw = rawRows.find((r) => r.memMb === p.memMb && r.mode === p.mode)!;
        const tree = treeDumpRows.find((r) => r.memMb === p.memMb);
        return {
          memMb: p.memMb,
          mode: p.mode,
          pauseOverTreeMs: p.pauseMs - raw.dumpMs,
          pauseOverSameTreeMs: p.pauseMs - (tree?.rawDumpMs ?? NaN),
          resumeOverTreeMs: p.resumeMs - raw.restoreMs,
          resumeOverImageMs: p.resumeMs - p.rawImageRestoreMs,
          toExecOverImageMs: p.resumeToExecMs - p.rawImageRestoreMs,
        };
      }),
    ),
  );
  console.log(
    `\npause of the same tree vs CRIU's own account of that dump (median of ${RUNS} per column): agentMs = the agent's pause ` +
      '(drain → envd prepare → freeze → checkpoint → metadata; the release runs after the reply, releaseMs); runcMs = the runc checkpoint process; criuLogMs = ' +
      "CRIU's dump.log first → last line; criuDumpMs = CRIU stats-dump freezing + frozen time (memdump + memwrite inside it); " +
      'overMs = agentMs − criuDumpMs, rpcOverMs = pauseMs (RPC) − criuDumpMs',
  );
  console.log(
    table(
      platformRows.map((p) => ({
        memMb: p.memMb,
        mode: p.mode,
        pauseMs: p.pauseMs,
        ...p.pauseSplit,
        overMs: p.pauseSplit.agentMs - p.pauseSplit.criuDumpMs,
        rpcOverMs: p.pauseMs - p.pauseSplit.criuDumpMs,
      })),
    ),
  );
  console.log(
    "\nresume cross-check with CRIU's stats-restore restore_time: the agent's restore vs baseline 2's (same image); " +
      'overMs = resumeMs − criuRestoreMs',
  );
  console.log(
    table(
      platformRows.map((p) => ({
        memMb: p.memMb,
        mode: p.mode,
        resumeMs: p.resumeMs,
        criuRestoreMs: p.criuRestoreMs,
        rawImageRestoreMs: p.rawImageRestoreMs,
        rawCriuRestoreMs: p.rawCriuRestoreMs,
        overMs: p.resumeMs - p.criuRestoreMs,
      })),
    ),
  );
}

await main();
