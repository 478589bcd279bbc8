/**
 * Baseline for the platform's pause: a raw `criu dump` of a running capsule's own process
 * tree (its init tini, envd and the workload below it), outside runc and the agent, with
 * the options runc 1.1 gives CRIU for the agent's `runc checkpoint --tcp-established`
 * (libcontainer's Checkpoint(), fed from runc's saved config in `<runcRoot>/<id>/state.json`):
 * log level 4 into a work dir of its own, the capsule's rootfs as root, cgroups managed,
 * established TCP allowed, the network-lock choice the agent makes (dump-network.ts) in a
 * CRIU config file with the agent's content, and as external mounts what runc marks: the
 * bind mounts, the masked /proc files (bound from /dev/null; masked dirs are tmpfs, dumped)
 * and the device nodes runc binds in (CRIU refuses those: "doesn't have a proper root
 * mount"). runc's ext-unix-sk and file-locks are off for the agent's checkpoint, as here;
 * orphan-pts-master, which runc always sets, is RPC-only (no CLI flag) and moot without a
 * terminal.
 *
 * Not like the agent's pause: no drain or envd prepare, and no cgroup freeze first: CRIU
 * freezes the tree itself (ptrace), as a plain `criu dump -t PID` does. The agent's
 * connections to envd are closed first, untimed, as the pause closes them before its
 * freeze, so the tree holds the same sockets (none open: `network-lock skip`). The dump
 * kills the tree (no --leave-running); the caller destroys the capsule afterwards.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CRIU_WRAPPER } from '../../packages/host-agent/src/infra/criu/criu-probe.js';
import { bundleCriuConfigText } from '../../packages/host-agent/src/infra/criu/runc-criu-config.js';
import { dumpNetwork } from '../../packages/host-agent/src/infra/runtime/oci/dump-network.js';
import { socketsNeedNetwork } from '../../packages/host-agent/src/infra/net/socket-inventory.js';
import { TEST_CACHE, type TestAgent } from '../../packages/host-agent/test/agent-harness.js';
import { readDumpStats } from './criu-stats.js';

/** The parts of runc's saved libcontainer config (`<runcRoot>/<id>/state.json`) a checkpoint reads. */
interface RuncSavedConfig {
  init_process_pid: number;
  config: {
    rootfs: string;
    mounts: Array<{ device: string; source: string; destination: string }>;
    mask_paths?: string[] | null;
    devices?: Array<{ path: string }> | null;
  };
}

/** What runc 1.1 marks external for a dump: bind mounts, masked files (not dirs: those are tmpfs), device nodes. */
function externalMounts(saved: RuncSavedConfig): string[] {
  const { config } = saved;
  const strip = (dest: string) => (dest.startsWith(config.rootfs) ? dest.slice(config.rootfs.length) : dest);
  const ext: string[] = [];
  for (const m of config.mounts) if (m.device === 'bind') ext.push(`mnt[${strip(m.destination)}]:${strip(m.destination)}`);
  for (const path of config.mask_paths ?? []) {
    try {
      if (statSync(`/proc/${saved.init_process_pid}/root${path}`).isDirectory()) continue;
    } catch {
      continue; // not in this kernel
    }
    ext.push(`mnt[${path}]:/dev/null`);
  }
  for (const d of config.devices ?? []) ext.push(`mnt[${strip(d.path)}]:${strip(d.path)}`);
  return ext.flatMap((e) => ['--external', e]);
}

/** Runs `cmd`, resolving with its exit code and the wall time from spawn to exit. */
function timedSpawn(cmd: string, args: string[]): Promise<{ code: number | null; ms: number; stderr: string }> {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const child = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    child.once('error', reject);
    child.once('exit', (code) => resolve({ code, ms: Number(process.hrtime.bigint() - t0) / 1e6, stderr }));
  });
}

/**
 * Raw `criu dump` of running capsule `id`'s tree; the capsule's processes are gone after.
 * ms: the criu process, spawn to exit; criuDumpMs: its stats-dump freezing + frozen time.
 */
export async function rawTreeDump(t: TestAgent, id: string): Promise<{ ms: number; criuDumpMs: number; imageBytes: number }> {
  const runtimeId = t.agent.manager.get(id).runtimeId;
  const runcRoot = t.agent.runtime.runcRoot;
  const saved = JSON.parse(readFileSync(join(runcRoot, runtimeId, 'state.json'), 'utf8')) as RuncSavedConfig;
  const pid = saved.init_process_pid;
  const work = join(TEST_CACHE, `bench-raw-dump-${process.pid}`);
  const images = join(work, 'images');
  rmSync(work, { recursive: true, force: true });
  mkdirSync(images, { recursive: true });
  try {
    // The tree in the state the agent's pause dumps it: the agent's connections to envd
    // closed, and closed by envd too (untimed; the agent's pause does this before its
    // freeze). Left open, they would be dumped as established TCP with the network locked.
    t.agent.manager.envdOf(id, 'bench raw dump').close();
    for (const deadline = Date.now() + 2000; (await socketsNeedNetwork(pid)) && Date.now() < deadline; ) {
      await new Promise((r) => setTimeout(r, 5));
    }
    // Then the agent's network-lock choice (dump-network.ts: lock unless no socket needs the
    // network), as the agent writes it into the bundle's criu.conf, into a copy of our own.
    const network = await dumpNetwork(runcRoot, runtimeId);
    const config = join(work, 'criu.conf');
    writeFileSync(config, bundleCriuConfigText({ tcpClose: false, lockNetwork: network.lock }));
    const args = [
      'dump',
      ...['-t', String(pid), '-D', images, '-W', work, '-o', 'dump.log', '-v4'],
      ...['--config', config],
      ...['--root', saved.config.rootfs, '--manage-cgroups', '--tcp-established'],
      ...externalMounts(saved),
    ];
    const res = await timedSpawn(CRIU_WRAPPER, args);
    if (res.code !== 0) {
      let log = res.stderr.trim();
      try {
        log = readFileSync(join(work, 'dump.log'), 'utf8')
          .split('\n')
          .filter((l) => /Error/.test(l))
          .slice(-3)
          .join('; ');
      } catch {
        // no log: CRIU did not get that far
      }
      throw new Error(`raw criu dump of ${id} (pid ${pid}) failed (exit ${res.code}): ${log}`);
    }
    const stats = readDumpStats(work);
    const imageBytes = readdirSync(images).reduce((a, f) => a + statSync(join(images, f)).size, 0);
    return { ms: res.ms, criuDumpMs: stats ? (stats.freezingUs + stats.frozenUs) / 1000 : NaN, imageBytes };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
