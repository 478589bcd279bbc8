/**
 * SandboxSpec → OCI config.json for runc. A pure function: no I/O, so every security and
 * resource decision is unit-testable.
 *
 * Decisions that are not obvious:
 * - Every namespace is created by runc (no `path`): joining pre-made namespaces breaks CRIU
 *   restore (docs/decisions.md#p3). The network namespace starts with only `lo`; the network
 *   layer plumbs a veth into it by the init PID afterwards.
 * - noNewPrivileges is false: `sudo` (setuid root) must work for non-root users inside the
 *   capsule. Safe because "root" there is an unprivileged host uid (user namespace), the
 *   bounding set caps what setuid can gain, and the seccomp filter applies to every process.
 * - oomScoreAdj 500: under global memory pressure the kernel kills capsule processes before
 *   the host agent. A capsule cannot lower it (that needs CAP_SYS_RESOURCE on the host).
 * - pids.max limits each capsule. Where the kernel counts RLIMIT_NPROC per user namespace
 *   (5.14+, `pidsReserve`), every uid inside the capsule is also held to pids.max minus
 *   PIDS_RESERVE processes: a fork bomb of the capsule's user stops there and leaves envd
 *   (root inside) the processes it needs to run commands, e.g. the one that ends the bomb.
 *   A bomb run as root inside shares envd's uid and count: the reserve cannot keep it apart.
 *   On older kernels NPROC counts per host uid (shared by every capsule): left off.
 */
import { WrennError } from '@wrenn/shared';
import type { SandboxSpec } from '../runtime.js';
import { CAPSULE_CAPABILITIES, DEVICE_RULES, MASKED_PATHS, READONLY_PATHS } from './hardening.js';
import type { OciMount, OciNamespaceType, OciSpec } from './oci-spec.js';
import { capsuleSeccompProfile } from './seccomp.js';

export interface OciSpecOptions {
  /** The capsule's cgroup, relative to the cgroup root (see `capsuleCgroupPath`). */
  cgroupsPath: string;
  /**
   * Set memory+swap equal to the memory limit (no swap for capsules). False on cgroup v1
   * hosts booted without swap accounting (no memory.memsw.* files), where runc would fail.
   */
  limitSwap: boolean;
  /**
   * RLIMIT_NOFILE hard limit (default NOFILE_HARD). Hosts whose agent lacks CAP_SYS_RESOURCE
   * cannot raise it above the agent's own (see host-limits.ts).
   */
  nofileHard?: number;
  /**
   * CRIU configuration file runc hands to every checkpoint/restore of this container
   * (annotation `org.criu.config`): how CRIU locks the network, which runc has no flag for.
   * runc reads it from the config saved at create time, so it must be set at `run`.
   */
  criuConfigPath?: string;
  /** Hold each uid inside to pids.max − PIDS_RESERVE (RLIMIT_NPROC): only where NPROC counts per user namespace. */
  pidsReserve?: boolean;
}

/** Processes a fork bomb of one uid inside the capsule leaves to the others (envd's root). */
export const PIDS_RESERVE = 64;

export const CPU_PERIOD_US = 100_000;
/** Generous for servers (node raises its soft limit to the hard one at start-up). */
export const NOFILE_SOFT = 65_536;
export const NOFILE_HARD = 1_048_576;
export const OOM_SCORE_ADJ = 500;

/** runc's own rule for container ids, minus the characters that would be awkward in paths. */
const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;

const NAMESPACES: readonly OciNamespaceType[] = ['pid', 'network', 'ipc', 'uts', 'mount', 'user', 'cgroup'];

export function isValidSandboxId(id: string): boolean {
  return ID_PATTERN.test(id);
}

/** Every capsule's cgroup lives under one parent so leftovers are easy to find. */
export function capsuleCgroupPath(id: string, parent = 'wrenn'): string {
  return `/${parent}/${id}`;
}

export function buildOciSpec(spec: SandboxSpec, opts: OciSpecOptions): OciSpec {
  validate(spec);
  const { limits, idMapping } = spec;
  const memoryBytes = limits.memoryMb * 1024 * 1024;
  const caps = [...CAPSULE_CAPABILITIES];
  const nofileHard = opts.nofileHard ?? NOFILE_HARD;
  return {
    ociVersion: '1.0.2',
    process: {
      terminal: false,
      user: { uid: 0, gid: 0 },
      args: [...spec.args],
      env: [...spec.env],
      cwd: spec.cwd,
      capabilities: { bounding: caps, effective: [...caps], permitted: [...caps], inheritable: [], ambient: [] },
      rlimits: [
        { type: 'RLIMIT_NOFILE', soft: Math.min(NOFILE_SOFT, nofileHard), hard: nofileHard },
        ...(opts.pidsReserve && limits.pidsMax > 2 * PIDS_RESERVE
          ? [{ type: 'RLIMIT_NPROC' as const, soft: limits.pidsMax - PIDS_RESERVE, hard: limits.pidsMax - PIDS_RESERVE }]
          : []),
      ],
      noNewPrivileges: false,
      oomScoreAdj: OOM_SCORE_ADJ,
    },
    root: { path: spec.rootfs, readonly: false },
    hostname: spec.hostname,
    mounts: [...systemMounts(limits.memoryMb), ...spec.mounts.map(bindMount)],
    linux: {
      namespaces: NAMESPACES.map((type) => ({ type })),
      uidMappings: [{ containerID: 0, hostID: idMapping.hostBase, size: idMapping.size }],
      gidMappings: [{ containerID: 0, hostID: idMapping.hostBase, size: idMapping.size }],
      cgroupsPath: opts.cgroupsPath,
      resources: {
        devices: DEVICE_RULES.map((d) => ({ ...d })),
        memory: { limit: memoryBytes, ...(opts.limitSwap ? { swap: memoryBytes } : {}), disableOOMKiller: false },
        cpu: {
          period: CPU_PERIOD_US,
          quota: Math.max(1000, Math.round(limits.vcpus * CPU_PERIOD_US)),
          // Fair share between busy capsules in proportion to their vcpus.
          shares: Math.max(2, Math.round(1024 * limits.vcpus)),
        },
        pids: { limit: limits.pidsMax },
      },
      seccomp: capsuleSeccompProfile(),
      maskedPaths: [...MASKED_PATHS],
      readonlyPaths: [...READONLY_PATHS],
    },
    ...(opts.criuConfigPath ? { annotations: { 'org.criu.config': opts.criuConfigPath } } : {}),
  };
}

function systemMounts(memoryMb: number): OciMount[] {
  // /dev/shm pages are charged to the capsule's memory cgroup anyway; runc's 64 MB default
  // breaks browsers and multiprocessing data loaders, so allow up to half the memory.
  const shmMb = Math.max(64, Math.floor(memoryMb / 2));
  return [
    { destination: '/proc', type: 'proc', source: 'proc', options: ['nosuid', 'noexec', 'nodev'] },
    { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
    {
      destination: '/dev/pts',
      type: 'devpts',
      source: 'devpts',
      options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'],
    },
    { destination: '/dev/shm', type: 'tmpfs', source: 'shm', options: ['nosuid', 'noexec', 'nodev', 'mode=1777', `size=${shmMb}m`] },
    { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
    // sysfs under a user namespace needs a netns owned by that userns: runc creates both.
    { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro'] },
    { destination: '/sys/fs/cgroup', type: 'cgroup', source: 'cgroup', options: ['nosuid', 'noexec', 'nodev', 'relatime', 'ro'] },
  ];
}

function bindMount(m: SandboxSpec['mounts'][number]): OciMount {
  return {
    destination: m.destination,
    type: 'bind',
    source: m.source,
    options: m.readonly ? ['rbind', 'ro', 'nosuid', 'nodev'] : ['rbind', 'nosuid', 'nodev'],
  };
}

function validate(spec: SandboxSpec): void {
  const bad = (message: string, details?: Record<string, unknown>) => new WrennError('invalid_argument', message, { id: spec.id, ...details });
  if (!ID_PATTERN.test(spec.id)) throw bad(`sandbox id ${JSON.stringify(spec.id)} must be 1-128 letters, digits, '_', '.', '-'`);
  if (!spec.rootfs.startsWith('/')) throw bad(`rootfs must be an absolute path, got ${JSON.stringify(spec.rootfs)}`);
  if (spec.args.length === 0) throw bad('args must name the init process');
  if (!spec.cwd.startsWith('/')) throw bad(`cwd must be an absolute path, got ${JSON.stringify(spec.cwd)}`);
  const { hostBase, size } = spec.idMapping;
  // Mapping capsule root to host root would make the user namespace pointless.
  if (!Number.isInteger(hostBase) || hostBase <= 0) throw bad(`idMapping.hostBase must be a positive host uid, got ${hostBase}`);
  if (!Number.isInteger(size) || size < 1) throw bad(`idMapping.size must be a positive integer, got ${size}`);
  const { vcpus, memoryMb, pidsMax } = spec.limits;
  if (!(vcpus > 0) || !Number.isFinite(vcpus)) throw bad(`limits.vcpus must be > 0, got ${vcpus}`);
  if (!Number.isInteger(memoryMb) || memoryMb < 16) throw bad(`limits.memoryMb must be an integer >= 16, got ${memoryMb}`);
  if (!Number.isInteger(pidsMax) || pidsMax < 8) throw bad(`limits.pidsMax must be an integer >= 8, got ${pidsMax}`);
  for (const m of spec.mounts) {
    if (!m.source.startsWith('/') || !m.destination.startsWith('/')) {
      throw bad(`bind mount paths must be absolute: ${JSON.stringify(m.source)} → ${JSON.stringify(m.destination)}`);
    }
  }
}
