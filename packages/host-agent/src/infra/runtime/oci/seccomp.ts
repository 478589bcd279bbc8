/**
 * The capsule's seccomp profile: an allow-list in the spirit of Docker's default profile
 * for a container without CAP_SYS_ADMIN. Everything not listed fails with EPERM.
 *
 * Differences from Docker's default, and why:
 * - io_uring_* fail with ENOSYS: CRIU cannot dump io_uring instances (a capsule using one
 *   could never be paused), and ENOSYS makes libuv/liburing fall back to plain syscalls.
 * - name_to_handle_at is denied (Docker allows it): file handles are only useful with
 *   open_by_handle_at, which is denied, and they leak inode identities of the host fs.
 * - unshare is allowed only without namespace flags: without it a process could create a
 *   nested user namespace (no capability needed) and regain mount/netlink powers there.
 * - chroot is allowed because CAP_SYS_CHROOT is in the capability set (Docker does the same
 *   when the capability is granted).
 *
 * Kept deliberately: ptrace, process_vm_readv/writev (kernel >= 4.8 checks them against
 * the caller's credentials; inside the capsule's own pid namespace only the capsule's own
 * processes are visible, so gdb/strace work and host pids cannot be reached).
 *
 * Syscalls newer than runc's libseccomp knows are ignored by name and answered with ENOSYS
 * by runc's filter stub, so glibc falls back to their older equivalents.
 */
import type { OciSeccomp, SeccompRule } from './oci-spec.js';

const EPERM = 1;
const ENOSYS = 38;

/** CLONE_NEWNS | NEWCGROUP | NEWUTS | NEWIPC | NEWUSER | NEWPID | NEWNET (as in Docker). */
export const CLONE_NAMESPACE_FLAGS = 0x7e020000;
/** The above plus CLONE_NEWTIME, which only unshare/clone3 accept (clone's low byte is the exit signal). */
export const UNSHARE_NAMESPACE_FLAGS = CLONE_NAMESPACE_FLAGS | 0x80;
const AF_VSOCK = 40;

/** Syscalls allowed unconditionally (Docker's list minus the exceptions above). */
export const ALLOWED_SYSCALLS: readonly string[] = [
  'accept', 'accept4', 'access', 'adjtimex', 'alarm', 'bind', 'brk', 'cachestat', 'capget', 'capset',
  'chdir', 'chmod', 'chown', 'chown32', 'chroot', 'clock_adjtime', 'clock_adjtime64', 'clock_getres',
  'clock_getres_time64', 'clock_gettime', 'clock_gettime64', 'clock_nanosleep', 'clock_nanosleep_time64',
  'close', 'close_range', 'connect', 'copy_file_range', 'creat', 'dup', 'dup2', 'dup3', 'epoll_create',
  'epoll_create1', 'epoll_ctl', 'epoll_ctl_old', 'epoll_pwait', 'epoll_pwait2', 'epoll_wait',
  'epoll_wait_old', 'eventfd', 'eventfd2', 'execve', 'execveat', 'exit', 'exit_group', 'faccessat',
  'faccessat2', 'fadvise64', 'fadvise64_64', 'fallocate', 'fanotify_mark', 'fchdir', 'fchmod',
  'fchmodat', 'fchmodat2', 'fchown', 'fchown32', 'fchownat', 'fcntl', 'fcntl64', 'fdatasync',
  'fgetxattr', 'flistxattr', 'flock', 'fork', 'fremovexattr', 'fsetxattr', 'fstat', 'fstat64',
  'fstatat64', 'fstatfs', 'fstatfs64', 'fsync', 'ftruncate', 'ftruncate64', 'futex', 'futex_requeue',
  'futex_time64', 'futex_wait', 'futex_waitv', 'futex_wake', 'futimesat', 'getcpu', 'getcwd', 'getdents',
  'getdents64', 'getegid', 'getegid32', 'geteuid', 'geteuid32', 'getgid', 'getgid32', 'getgroups',
  'getgroups32', 'getitimer', 'getpeername', 'getpgid', 'getpgrp', 'getpid', 'getppid', 'getpriority',
  'getrandom', 'getresgid', 'getresgid32', 'getresuid', 'getresuid32', 'getrlimit', 'get_robust_list',
  'getrusage', 'getsid', 'getsockname', 'getsockopt', 'get_thread_area', 'gettid', 'gettimeofday',
  'getuid', 'getuid32', 'getxattr', 'inotify_add_watch', 'inotify_init', 'inotify_init1',
  'inotify_rm_watch', 'io_cancel', 'ioctl', 'io_destroy', 'io_getevents', 'io_pgetevents',
  'io_pgetevents_time64', 'ioprio_get', 'ioprio_set', 'io_setup', 'io_submit', 'ipc', 'kill',
  'landlock_add_rule', 'landlock_create_ruleset', 'landlock_restrict_self', 'lchown', 'lchown32',
  'lgetxattr', 'link', 'linkat', 'listen', 'listxattr', 'llistxattr', '_llseek', 'lremovexattr', 'lseek',
  'lsetxattr', 'lstat', 'lstat64', 'madvise', 'map_shadow_stack', 'membarrier', 'memfd_create',
  'memfd_secret', 'mincore', 'mkdir', 'mkdirat', 'mknod', 'mknodat', 'mlock', 'mlock2', 'mlockall',
  'mmap', 'mmap2', 'mprotect', 'mq_getsetattr', 'mq_notify', 'mq_open', 'mq_timedreceive',
  'mq_timedreceive_time64', 'mq_timedsend', 'mq_timedsend_time64', 'mq_unlink', 'mremap', 'msgctl',
  'msgget', 'msgrcv', 'msgsnd', 'msync', 'munlock', 'munlockall', 'munmap', 'nanosleep', 'newfstatat',
  '_newselect', 'open', 'openat', 'openat2', 'pause', 'pidfd_open', 'pidfd_send_signal', 'pipe', 'pipe2',
  'pkey_alloc', 'pkey_free', 'pkey_mprotect', 'poll', 'ppoll', 'ppoll_time64', 'prctl', 'pread64',
  'preadv', 'preadv2', 'prlimit64', 'process_mrelease', 'process_vm_readv', 'process_vm_writev',
  'pselect6', 'pselect6_time64', 'ptrace', 'pwrite64', 'pwritev', 'pwritev2', 'read', 'readahead',
  'readlink', 'readlinkat', 'readv', 'recv', 'recvfrom', 'recvmmsg', 'recvmmsg_time64', 'recvmsg',
  'remap_file_pages', 'removexattr', 'rename', 'renameat', 'renameat2', 'restart_syscall', 'rmdir',
  'rseq', 'rt_sigaction', 'rt_sigpending', 'rt_sigprocmask', 'rt_sigqueueinfo', 'rt_sigreturn',
  'rt_sigsuspend', 'rt_sigtimedwait', 'rt_sigtimedwait_time64', 'rt_tgsigqueueinfo', 'sched_getaffinity',
  'sched_getattr', 'sched_getparam', 'sched_get_priority_max', 'sched_get_priority_min',
  'sched_getscheduler', 'sched_rr_get_interval', 'sched_rr_get_interval_time64', 'sched_setaffinity',
  'sched_setattr', 'sched_setparam', 'sched_setscheduler', 'sched_yield', 'seccomp', 'select', 'semctl',
  'semget', 'semop', 'semtimedop', 'semtimedop_time64', 'send', 'sendfile', 'sendfile64', 'sendmmsg',
  'sendmsg', 'sendto', 'setfsgid', 'setfsgid32', 'setfsuid', 'setfsuid32', 'setgid', 'setgid32',
  'setgroups', 'setgroups32', 'setitimer', 'setpgid', 'setpriority', 'setregid', 'setregid32',
  'setresgid', 'setresgid32', 'setresuid', 'setresuid32', 'setreuid', 'setreuid32', 'setrlimit',
  'set_robust_list', 'setsid', 'setsockopt', 'set_thread_area', 'set_tid_address', 'setuid', 'setuid32',
  'setxattr', 'shmat', 'shmctl', 'shmdt', 'shmget', 'shutdown', 'sigaltstack', 'signalfd', 'signalfd4',
  'sigprocmask', 'sigreturn', 'socketcall', 'socketpair', 'splice', 'stat', 'stat64', 'statfs',
  'statfs64', 'statx', 'symlink', 'symlinkat', 'sync', 'sync_file_range', 'syncfs', 'sysinfo', 'tee',
  'tgkill', 'time', 'timer_create', 'timer_delete', 'timer_getoverrun', 'timer_gettime',
  'timer_gettime64', 'timer_settime', 'timer_settime64', 'timerfd_create', 'timerfd_gettime',
  'timerfd_gettime64', 'timerfd_settime', 'timerfd_settime64', 'times', 'tkill', 'truncate',
  'truncate64', 'ugetrlimit', 'umask', 'uname', 'unlink', 'unlinkat', 'utime', 'utimensat',
  'utimensat_time64', 'utimes', 'vfork', 'vmsplice', 'wait4', 'waitid', 'waitpid', 'write', 'writev',
  // x86 only (Docker allows them on amd64/x32/x86)
  'arch_prctl', 'modify_ldt',
];

/**
 * Never allowed, listed so tests (and readers) can check the profile against them. None of
 * these appears in ALLOWED_SYSCALLS; they fall to the default action (EPERM).
 */
export const DENIED_SYSCALLS: readonly string[] = [
  'mount', 'umount', 'umount2', 'mount_setattr', 'move_mount', 'open_tree', 'fsopen', 'fsconfig',
  'fsmount', 'fspick', 'pivot_root', 'init_module', 'finit_module', 'delete_module', 'kexec_load',
  'kexec_file_load', 'bpf', 'perf_event_open', 'keyctl', 'add_key', 'request_key', 'setns', 'swapon',
  'swapoff', 'reboot', 'open_by_handle_at', 'name_to_handle_at', 'userfaultfd', 'quotactl',
  'quotactl_fd', 'acct', 'settimeofday', 'stime', 'clock_settime', 'clock_settime64', 'iopl', 'ioperm',
  'lookup_dcookie', 'nfsservctl', 'vm86', 'vm86old', 'kcmp', 'pidfd_getfd', 'process_madvise',
  'sethostname', 'setdomainname', 'syslog', 'vhangup', 'fanotify_init', 'uselib', 'ustat', 'sysfs',
  '_sysctl', 'get_kernel_syms', 'query_module', 'create_module', 'mbind', 'set_mempolicy',
  'get_mempolicy', 'move_pages', 'migrate_pages',
];

const conditionalRules: SeccompRule[] = [
  // clone without namespace flags (threads, fork). clone3 passes its flags in a struct that
  // seccomp cannot inspect, so it answers ENOSYS and glibc falls back to clone.
  { names: ['clone'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: CLONE_NAMESPACE_FLAGS, valueTwo: 0, op: 'SCMP_CMP_MASKED_EQ' }] },
  { names: ['clone3'], action: 'SCMP_ACT_ERRNO', errnoRet: ENOSYS },
  // unshare(CLONE_FS/FILES/SYSVSEM) is harmless; namespace flags are not.
  { names: ['unshare'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: UNSHARE_NAMESPACE_FLAGS, valueTwo: 0, op: 'SCMP_CMP_MASKED_EQ' }] },
  { names: ['io_uring_setup', 'io_uring_enter', 'io_uring_register'], action: 'SCMP_ACT_ERRNO', errnoRet: ENOSYS },
  // Any socket family but vsock (a path to the hypervisor on VM hosts).
  { names: ['socket'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: AF_VSOCK, op: 'SCMP_CMP_NE' }] },
  // personality: only the values Docker allows (linux, linux32, uname26, query).
  ...[0x0, 0x8, 0x20000, 0x20008, 0xffffffff].map(
    (value): SeccompRule => ({ names: ['personality'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value, op: 'SCMP_CMP_EQ' }] }),
  ),
];

/** Builds the profile (a fresh object each call: callers may serialise or tweak it). */
export function capsuleSeccompProfile(): OciSeccomp {
  return {
    defaultAction: 'SCMP_ACT_ERRNO',
    defaultErrnoRet: EPERM,
    architectures: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32'],
    syscalls: [{ names: [...ALLOWED_SYSCALLS], action: 'SCMP_ACT_ALLOW' }, ...conditionalRules.map((r) => structuredClone(r))],
  };
}
