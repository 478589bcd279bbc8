/**
 * Baseline for the platform's resume: a raw `criu restore` of the very image the agent's
 * pause wrote (same process tree, namespaces, mounts, tmpfs contents, cgroups, memory),
 * with the options runc would give CRIU (log level 4, the capsule's rootfs as root, its
 * bind and device mounts mapped, cgroups managed, the same network-lock choice, lazy pages
 * from a `criu lazy-pages` daemon), but without runc, the agent, the network plumbing
 * and envd. The difference to the platform's resume is what the platform adds around CRIU.
 *
 * Like runc, it makes the capsule's cgroups before the restore (CRIU then only moves the
 * processes in, and does not bring back the freezer state of the dump). It mounts the
 * capsule's disk first and unmounts it after, untimed; the restored processes are killed
 * right after the restore returned.
 */
import { spawn } from 'node:child_process';
import { existsSync, linkSync, mkdirSync, readFileSync, readdirSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { silentLogger } from '@wrenn/shared';
import { run } from '../../packages/host-agent/src/infra/exec.js';
import { CRIU_WRAPPER } from '../../packages/host-agent/src/infra/criu/criu-probe.js';
import { loopOverlayRootfs } from '../../packages/host-agent/src/infra/rootfs/loop-overlay-rootfs.js';
import { unmountCapsuleRootfs } from '../../packages/host-agent/src/infra/rootfs/capsule-rootfs.js';
import { TEST_CACHE, type TestAgent } from '../../packages/host-agent/test/agent-harness.js';
import { readRestoreStats } from './criu-stats.js';

/** Device nodes runc bind-mounts into every capsule (the OCI default set). */
const DEVICES = ['null', 'zero', 'full', 'random', 'urandom', 'tty'];

function cgroupHierarchies(): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((l) => l.split(' '))
    .filter((f) => f[4]?.startsWith('/sys/fs/cgroup/') && (f.at(-3) === 'cgroup' || f.at(-3) === 'cgroup2'))
    .map((f) => f[4]!);
}

/** The capsule's cgroup in every hierarchy, as runc makes it (cpuset copied from the parent). */
function makeCgroups(path: string): string[] {
  const made: string[] = [];
  for (const root of cgroupHierarchies()) {
    const dir = join(root, path);
    mkdirSync(dir, { recursive: true });
    made.push(dir);
    if (root.endsWith('/cpuset')) {
      for (const f of ['cpuset.cpus', 'cpuset.mems']) writeFileSync(join(dir, f), readFileSync(join(dir, '..', f), 'utf8').trim() || '0');
    }
  }
  return made;
}

async function removeCgroups(dirs: string[]): Promise<void> {
  for (const dir of dirs) {
    if (dir.includes('/freezer/') && existsSync(join(dir, 'freezer.state'))) writeFileSync(join(dir, 'freezer.state'), 'THAWED');
  }
  for (const dir of dirs) {
    for (const pid of (existsSync(join(dir, 'cgroup.procs')) ? readFileSync(join(dir, 'cgroup.procs'), 'utf8') : '').split('\n').filter(Boolean)) {
      try {
        process.kill(Number(pid), 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }
  for (const dir of dirs) {
    for (let i = 0; i < 200; i++) {
      try {
        rmdirSync(dir);
        break;
      } catch {
        await new Promise((r) => setTimeout(r, 10));
      }
    }
  }
}

/** Milliseconds of `criu restore` of capsule `id`'s pause image (the capsule must be paused), and CRIU's own restore_time of it. */
export async function rawImageRestore(t: TestAgent, id: string, mode: 'eager' | 'lazy'): Promise<{ ms: number; criuRestoreMs: number }> {
  const pauser = t.agent.manager.pauser!;
  const imageDir = pauser.snapshots.memoryDir(id);
  const meta = await pauser.snapshots.readMetadata(id);
  const capsuleDir = t.agent.manager.store.dirOf(id);
  const config = JSON.parse(readFileSync(join(capsuleDir, 'bundle', 'config.json'), 'utf8')) as {
    mounts: Array<{ type: string; source: string; destination: string }>;
  };
  const rootfs = loopOverlayRootfs({ idMapping: { hostBase: t.config.uidBase, size: t.config.uidRange }, logger: silentLogger() });
  const mounted = await rootfs.mountExisting({ capsuleDir, template: await t.agent.templates.get('minimal') });
  // Hard links to the image (CRIU only reads it; the agent deletes its own dir later), in a
  // dir of their own so CRIU's logs and sockets do not land beside the agent's.
  const work = join(TEST_CACHE, `bench-raw-image-${process.pid}`);
  const images = join(work, 'images');
  rmSync(work, { recursive: true, force: true });
  mkdirSync(images, { recursive: true });
  for (const f of readdirSync(imageDir)) if (f.endsWith('.img') || f === 'descriptors.json') linkSync(join(imageDir, f), join(images, f));
  const cgroups = makeCgroups(`${t.cgroupParent}/${id}`);
  let daemon: ReturnType<typeof spawn> | undefined;
  let restoredPid = 0;
  try {
    const ext = config.mounts.filter((m) => m.type === 'bind').flatMap((m) => ['--ext-mount-map', `${m.destination}:${m.source}`]);
    ext.push(...DEVICES.flatMap((d) => ['--ext-mount-map', `/dev/${d}:/dev/${d}`]));
    const args = [
      'restore',
      ...['-D', images, '-W', work, '-o', 'restore.log', '-v4'],
      ...['--root', mounted.mergedDir, '--manage-cgroups', '--tcp-established', '--evasive-devices'],
      ...['--network-lock', meta?.socketsNeedNetwork === false ? 'skip' : 'nftables'],
      ...ext,
      ...(mode === 'lazy' ? ['--lazy-pages'] : []),
      ...['-d', '--pidfile', join(work, 'restored.pid')],
    ];
    const t0 = process.hrtime.bigint();
    if (mode === 'lazy') {
      daemon = spawn(CRIU_WRAPPER, ['lazy-pages', '-D', images, '-W', work, '-o', 'lazy-pages.log'], { stdio: 'ignore' });
      while (!existsSync(join(work, 'lazy-pages.socket'))) await new Promise((r) => setTimeout(r, 2));
    }
    const res = await run(CRIU_WRAPPER, args, { allowFailure: true });
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    if (res.code !== 0) {
      const log = readFileSync(join(work, 'restore.log'), 'utf8').split('\n').filter((l) => /Error/.test(l));
      throw new Error(`raw criu restore of ${id} failed: ${log.slice(-3).join('; ')}`);
    }
    restoredPid = Number(readFileSync(join(work, 'restored.pid'), 'utf8').trim());
    // CRIU's own restore_time, from its stats-restore in the work dir.
    return { ms, criuRestoreMs: (readRestoreStats(work)?.restoreUs ?? NaN) / 1000 };
  } finally {
    // Killing its init ends the capsule's pid namespace; the lazy-pages daemon then exits.
    if (restoredPid > 0) {
      try {
        process.kill(restoredPid, 'SIGKILL');
      } catch {
        // gone
      }
    }
    await removeCgroups(cgroups);
    if (daemon && daemon.exitCode === null) {
      // It exits once the restored processes are gone; one that never got them is killed.
      const exited = new Promise((r) => daemon!.once('exit', r));
      const timer = setTimeout(() => daemon!.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    }
    await unmountCapsuleRootfs(capsuleDir, silentLogger());
    rmSync(work, { recursive: true, force: true });
  }
}
