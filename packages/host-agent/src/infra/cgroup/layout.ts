/**
 * Which cgroup hierarchy the host runs, and where each controller is mounted:
 * - v2: /sys/fs/cgroup is cgroup2 (most production hosts);
 * - hybrid: /sys/fs/cgroup is a tmpfs of v1 controller mounts plus a cgroup2 mount at
 *   /sys/fs/cgroup/unified that holds no controllers (this development machine);
 * - v1: v1 controllers only.
 * Controller mount points come from /proc/self/mountinfo because distributions co-mount
 * controllers differently (cpu,cpuacct together on systemd hosts, apart here).
 */
import { access, readFile, statfs } from 'node:fs/promises';
import { join } from 'node:path';
import { WrennError } from '@wrenn/shared';

export type CgroupMode = 'v1' | 'hybrid' | 'v2';

export interface CgroupLayout {
  mode: CgroupMode;
  /** Mount point of the cgroup2 hierarchy (v2 and hybrid). */
  unifiedMount?: string;
  /** v1 controller (e.g. "memory", "name=systemd") → its mount point (v1 and hybrid). */
  v1Mounts: ReadonlyMap<string, string>;
  /** memory.memsw.* exists (v1), so memory+swap can be limited; always true on v2. */
  swapAccounting: boolean;
}

const CGROUP2_SUPER_MAGIC = 0x63677270;

export interface DetectOptions {
  root?: string;
  mountinfoPath?: string;
}

export async function detectCgroupLayout(opts: DetectOptions = {}): Promise<CgroupLayout> {
  const root = opts.root ?? '/sys/fs/cgroup';
  const rootType = await fsType(root);
  if (rootType === undefined) throw new WrennError('failed_precondition', `no cgroup filesystem at ${root}: is /sys/fs/cgroup mounted?`);
  if (rootType === CGROUP2_SUPER_MAGIC) return { mode: 'v2', unifiedMount: root, v1Mounts: new Map(), swapAccounting: true };

  const v1Mounts = parseV1Mounts(await readFile(opts.mountinfoPath ?? '/proc/self/mountinfo', 'utf8'));
  if (v1Mounts.size === 0) throw new WrennError('failed_precondition', `no cgroup v1 controllers are mounted under ${root}`);
  const memoryMount = v1Mounts.get('memory');
  const swapAccounting = memoryMount !== undefined && (await exists(join(memoryMount, 'memory.memsw.limit_in_bytes')));
  const unified = join(root, 'unified');
  if ((await fsType(unified)) === CGROUP2_SUPER_MAGIC) return { mode: 'hybrid', unifiedMount: unified, v1Mounts, swapAccounting };
  return { mode: 'v1', v1Mounts, swapAccounting };
}

/** Parses v1 cgroup mounts out of mountinfo: controller name → mount point. */
export function parseV1Mounts(mountinfo: string): Map<string, string> {
  const mounts = new Map<string, string>();
  for (const line of mountinfo.split('\n')) {
    const sep = line.indexOf(' - ');
    if (sep < 0) continue;
    const [fstype, , superOptions = ''] = line.slice(sep + 3).split(' ');
    if (fstype !== 'cgroup') continue;
    const mountPoint = unescapeMountPath(line.slice(0, sep).split(' ')[4] ?? '');
    for (const opt of superOptions.split(',')) {
      if (V1_CONTROLLERS.has(opt) || opt.startsWith('name=')) {
        if (!mounts.has(opt)) mounts.set(opt, mountPoint);
      }
    }
  }
  return mounts;
}

const V1_CONTROLLERS = new Set([
  'cpu', 'cpuacct', 'cpuset', 'memory', 'devices', 'freezer', 'net_cls', 'net_prio', 'blkio',
  'perf_event', 'hugetlb', 'pids', 'rdma', 'misc',
]);

/** Directory of `cgroupPath` (e.g. "/wrenn/abc") for one v1 controller, or the v2 directory. */
export function controllerDir(layout: CgroupLayout, controller: string, cgroupPath: string): string | undefined {
  if (layout.mode === 'v2') return join(layout.unifiedMount!, cgroupPath);
  const mount = layout.v1Mounts.get(controller);
  return mount === undefined ? undefined : join(mount, cgroupPath);
}

/** Every directory that represents `cgroupPath`, one per hierarchy (deduplicated for co-mounts). */
export function allCgroupDirs(layout: CgroupLayout, cgroupPath: string): string[] {
  const dirs = new Set<string>();
  for (const mount of layout.v1Mounts.values()) dirs.add(join(mount, cgroupPath));
  if (layout.unifiedMount !== undefined) dirs.add(join(layout.unifiedMount, cgroupPath));
  return [...dirs];
}

function unescapeMountPath(p: string): string {
  return p.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(parseInt(oct, 8)));
}

async function fsType(path: string): Promise<number | undefined> {
  try {
    return (await statfs(path)).type;
  } catch {
    return undefined;
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}
