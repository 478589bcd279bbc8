/**
 * The fixed parts of a capsule's confinement: capabilities, /proc and /sys paths hidden or
 * made read-only, and the device allow-list. Kept apart from spec.ts so a reviewer can read
 * the whole security posture on one screen.
 */
import type { OciDeviceRule } from './oci-spec.js';

/**
 * Docker's default set. Root inside the capsule needs these for ordinary administration
 * (chown, apt, sudo, ping, binding port 80); they act only on the capsule's own user
 * namespace, never on host resources.
 */
export const CAPSULE_CAPABILITIES: readonly string[] = [
  'CAP_CHOWN',
  'CAP_DAC_OVERRIDE',
  'CAP_FSETID',
  'CAP_FOWNER',
  'CAP_MKNOD',
  'CAP_NET_RAW',
  'CAP_SETGID',
  'CAP_SETUID',
  'CAP_SETFCAP',
  'CAP_SETPCAP',
  'CAP_NET_BIND_SERVICE',
  'CAP_SYS_CHROOT',
  'CAP_KILL',
  'CAP_AUDIT_WRITE',
];

/** Never granted; checked by the spec tests. */
export const FORBIDDEN_CAPABILITIES: readonly string[] = [
  'CAP_SYS_ADMIN',
  'CAP_SYS_MODULE',
  'CAP_SYS_PTRACE',
  'CAP_SYS_RAWIO',
  'CAP_SYS_BOOT',
  'CAP_SYS_TIME',
  'CAP_SYS_RESOURCE',
  'CAP_SYS_NICE',
  'CAP_SYS_PACCT',
  'CAP_SYS_TTY_CONFIG',
  'CAP_NET_ADMIN',
  'CAP_MAC_ADMIN',
  'CAP_MAC_OVERRIDE',
  'CAP_DAC_READ_SEARCH',
  'CAP_LINUX_IMMUTABLE',
  'CAP_IPC_LOCK',
  'CAP_IPC_OWNER',
  'CAP_LEASE',
  'CAP_SYSLOG',
  'CAP_WAKE_ALARM',
  'CAP_BLOCK_SUSPEND',
  'CAP_AUDIT_CONTROL',
  'CAP_AUDIT_READ',
  'CAP_BPF',
  'CAP_PERFMON',
  'CAP_CHECKPOINT_RESTORE',
];

/** Files that leak host information or offer kernel attack surface: bind-mounted over with /dev/null or an empty tmpfs. */
export const MASKED_PATHS: readonly string[] = [
  '/proc/acpi',
  '/proc/asound',
  '/proc/kcore',
  '/proc/keys',
  '/proc/latency_stats',
  '/proc/timer_list',
  '/proc/timer_stats',
  '/proc/sched_debug',
  '/proc/scsi',
  '/sys/firmware',
  // Intel RAPL energy counters (PLATYPUS side channel, CVE-2020-8694).
  '/sys/devices/virtual/powercap',
];

/** Kernel tunables visible but not writable (sysctl, sysrq, irq affinity). */
export const READONLY_PATHS: readonly string[] = ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'];

/**
 * Device cgroup: deny everything, then allow the standard character devices runc creates
 * (null, zero, full, random, urandom, tty) and the capsule's own devpts instance.
 * No fuse, no block devices. runc 1.1 appends its own defaults after these (the same list
 * plus c 10:200 tun and mknod-only wildcards); harmless here: the capsule cannot mknod (user
 * namespace), no tun node is bind-mounted, and creating tun devices needs CAP_NET_ADMIN.
 */
export const DEVICE_RULES: readonly OciDeviceRule[] = [
  { allow: false, access: 'rwm' },
  { allow: true, type: 'c', major: 1, minor: 3, access: 'rwm' }, // null
  { allow: true, type: 'c', major: 1, minor: 5, access: 'rwm' }, // zero
  { allow: true, type: 'c', major: 1, minor: 7, access: 'rwm' }, // full
  { allow: true, type: 'c', major: 1, minor: 8, access: 'rwm' }, // random
  { allow: true, type: 'c', major: 1, minor: 9, access: 'rwm' }, // urandom
  { allow: true, type: 'c', major: 5, minor: 0, access: 'rwm' }, // tty
  { allow: true, type: 'c', major: 5, minor: 2, access: 'rwm' }, // ptmx
  { allow: true, type: 'c', major: 136, access: 'rwm' }, // pts/*
];
