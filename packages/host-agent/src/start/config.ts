/** Host agent configuration from WRENN_* environment variables, validated once at start. */
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { int, parseSize } from '@wrenn/shared';
import { defaultCriuPath } from '../infra/criu/criu-probe.js';
import { parseEgressAllow } from '../infra/net/egress-policy.js';
import { MEMORY_OVERCOMMIT } from '../domain/lifecycle/create-rules.js';

function lazyRestoreMode(raw: string | undefined): 'auto' | 'off' {
  if (raw === undefined || raw === '' || raw === 'auto') return 'auto';
  if (raw === 'off' || raw === 'false') return 'off';
  throw new Error(`WRENN_LAZY_RESTORE must be auto or off, got ${JSON.stringify(raw)}`);
}

export interface AgentConfig {
  /** State, templates, capsule disks and snapshots. WRENN_DATA_DIR, default /var/lib/wrenn. */
  dataDir: string;
  /** Listen address of the agent's RPC server. WRENN_AGENT_HOST, default 127.0.0.1. */
  host: string;
  /** WRENN_AGENT_PORT, default 50052. */
  port: number;
  /**
   * Port of the proxy listener (plain HTTP/1.1, same listen address): the control plane
   * sends proxied traffic for capsule ports here, with the agent token. WRENN_AGENT_PROXY_PORT,
   * default 0: a free port (the control plane learns it from the registration, heartbeats
   * and Health), so two agents on one machine, or a restarted one, never collide on it.
   */
  proxyPort: number;
  /** URL the control plane reaches the proxy listener at. WRENN_AGENT_PROXY_ADVERTISE_URL, default: the advertise URL's host with the proxy port. */
  proxyAdvertiseUrl: string | undefined;
  /** Bearer token callers must present. WRENN_AGENT_TOKEN; generated and stored under dataDir when unset. */
  token: string | undefined;
  /** Default writable-layer size. WRENN_DEFAULT_ROOTFS_SIZE, default 5G (never smaller than the template, docs/decisions.md#h6). */
  defaultRootfsSizeBytes: number;
  /** Pool capsules take their addresses from. WRENN_NETWORK_CIDR, default 10.88.0.0/16. */
  networkCidr: string;
  /** Host uid/gid capsule root maps to, and the size of the range. WRENN_UID_BASE (100000), WRENN_UID_RANGE (65536). */
  uidBase: number;
  uidRange: number;
  /** Per-capsule process limit. WRENN_PIDS_MAX, default 4096. */
  pidsMax: number;
  /**
   * Capsules' memory limits on this host may add up to its memory × this (limits are caps,
   * idle capsules use little of them). WRENN_MEMORY_OVERCOMMIT, default 3: the same
   * variable and default as the control plane's placement.
   */
  memoryOvercommit: number;
  /** Warm pool: `template=count,...`. WRENN_WARM_POOL, default empty (off). */
  warmPool: Record<string, number>;
  /**
   * Ranges of the default egress deny set (private, shared, link-local... see
   * infra/net/egress-policy.ts) every capsule with egress may reach, e.g. a private DNS
   * resolver or package mirror. WRENN_EGRESS_ALLOW: comma-separated IPv4 CIDRs or addresses.
   */
  egressAllow: string[];
  /**
   * DNS servers the host asks for the domain names of capsules' egress allow lists
   * (`ip` or `ip:port`, comma-separated). WRENN_EGRESS_DNS; default: the host's resolvers.
   */
  egressDns: string[];
  /** Seconds between re-resolutions of those names. WRENN_EGRESS_DNS_REFRESH_SEC, default 60. */
  egressDnsRefreshSec: number;
  /**
   * Capsule starts and restores (create, resume) run at most this many at a time; the rest
   * wait their turn, and their envd deadline counts from when they start. WRENN_START_CONCURRENCY,
   * default: the host's cores (WRENN_VCPUS_TOTAL).
   */
  startConcurrency: number;
  /** Per-capsule network rate. WRENN_NET_RATE (200M bytes/s), WRENN_NET_BURST (100M bytes). */
  netRateBytesPerSec: number;
  netBurstBytes: number;
  /** runc binary. WRENN_RUNC, default runc. */
  runcPath: string;
  /** CRIU binary or wrapper. WRENN_CRIU, default /opt/wrenn/criu/bin/criu (scripts/install-criu.sh) if present, else criu. */
  criuPath: string;
  /** Memory snapshots and their metadata. WRENN_SNAPSHOT_DIR, default <dataDir>/snapshots. */
  snapshotDir: string;
  /** Snapshot templates (capsules saved with their memory). WRENN_SNAPSHOT_TEMPLATE_DIR, default <dataDir>/snapshot-templates. */
  snapshotTemplateDir: string;
  /**
   * Lazy restore (memory loaded on demand) when the host supports it. WRENN_LAZY_RESTORE:
   * auto (default: when CRIU supports it; the agent then sets vm.unprivileged_userfaultfd=1,
   * which restored capsules need, see infra/criu/userfaultfd-sysctl.ts) or off (eager
   * restores; the sysctl is left alone).
   */
  lazyRestore: 'auto' | 'off';
  /**
   * Deadline of one CRIU dump or restore (runc checkpoint/restore). On expiry runc and the
   * CRIU it started are killed as a process group; a pause then thaws the capsule (running),
   * a resume leaves it paused (or error if its processes had started). Generous: a dump
   * writes the capsule's whole memory (~1 GB/s here, slower on busy disks). Raise it for
   * capsules of tens of GB. WRENN_PAUSE_TIMEOUT_MS, default 300000 (5 min).
   */
  pauseTimeoutMs: number;
  /** Deadline of envd's /snapshot/prepare during a pause (docs/decisions.md#h4). WRENN_SNAPSHOT_PREPARE_TIMEOUT_MS, default 30000. */
  snapshotPrepareTimeoutMs: number;
  /** Grace period for proxied connections to drain before a pause force-closes them (docs/decisions.md#h1). WRENN_PAUSE_DRAIN_GRACE_MS, default 5000. */
  pauseDrainGraceMs: number;
  /** How long Create waits for envd to answer /health. WRENN_ENVD_START_TIMEOUT_MS, default 20000. */
  envdStartTimeoutMs: number;
  /** Capacity the scheduler may hand out (defaults: all cores, 90% of memory). */
  vcpusTotal: number;
  /** nftables table the agent owns. WRENN_NFT_TABLE, default wrenn. */
  nftTable: string;
  /** Host interface name prefix (lowercase letters). WRENN_IF_PREFIX, default wr. */
  ifPrefix: string;
  /** Parent cgroup of every capsule. WRENN_CGROUP_PARENT, default wrenn. */
  cgroupParent: string;
  /** Turn on net.ipv4.ip_forward for NAT egress. WRENN_IP_FORWARD, default true. */
  ipForward: boolean;
  logLevel: string;
  /** Control plane to register with and heartbeat to (`--control-plane`). WRENN_CONTROL_PLANE_URL; unset: the one saved at registration, if any. */
  controlPlaneUrl: string | undefined;
  /** One-time registration token from POST /v1/hosts (`--register`). WRENN_REGISTER_TOKEN. */
  registerToken: string | undefined;
  /** URL the control plane reaches this agent's RPC server at. WRENN_AGENT_ADVERTISE_URL, default http://<host>:<port>. */
  advertiseUrl: string | undefined;
  /** Heartbeat period. WRENN_HEARTBEAT_SEC, default 10. */
  heartbeatSec: number;
}

function httpUrl(env: NodeJS.ProcessEnv, name: string): string | undefined {
  const raw = env[name];
  if (raw === undefined || raw === '') return undefined;
  if (!/^https?:\/\/[^\s/]+/.test(raw)) throw new Error(`${name} must be an http(s) URL, got ${JSON.stringify(raw)}`);
  return raw;
}

export function parseWarmPool(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const part of text.split(',').map((s) => s.trim()).filter(Boolean)) {
    const m = /^([A-Za-z0-9._-]+)=(\d+)$/.exec(part);
    if (!m) throw new Error(`WRENN_WARM_POOL: expected template=count[,template=count], got ${JSON.stringify(part)}`);
    out[m[1]!] = Number(m[2]);
  }
  return out;
}

function positiveRatio(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!/^\d+(\.\d+)?$/.test(raw.trim()) || !(n > 0)) throw new Error(`${name} must be a positive number, got ${JSON.stringify(raw)}`);
  return n;
}

function egressAllowFrom(raw: string | undefined): string[] {
  try {
    return parseEgressAllow(raw);
  } catch (err) {
    throw new Error((err as Error).message);
  }
}

export function loadAgentConfig(env: NodeJS.ProcessEnv = process.env): AgentConfig {
  const cidr = env.WRENN_NETWORK_CIDR || '10.88.0.0/16';
  if (!/^\d+\.\d+\.\d+\.\d+\/\d+$/.test(cidr)) throw new Error(`WRENN_NETWORK_CIDR must look like 10.88.0.0/16, got ${JSON.stringify(cidr)}`);
  return {
    dataDir: env.WRENN_DATA_DIR || '/var/lib/wrenn',
    host: env.WRENN_AGENT_HOST || '127.0.0.1',
    port: int(env, 'WRENN_AGENT_PORT', 50052),
    proxyPort: int(env, 'WRENN_AGENT_PROXY_PORT', 0),
    proxyAdvertiseUrl: httpUrl(env, 'WRENN_AGENT_PROXY_ADVERTISE_URL'),
    token: env.WRENN_AGENT_TOKEN || undefined,
    defaultRootfsSizeBytes: parseSize(env.WRENN_DEFAULT_ROOTFS_SIZE || '5G', 'WRENN_DEFAULT_ROOTFS_SIZE'),
    networkCidr: cidr,
    uidBase: int(env, 'WRENN_UID_BASE', 100000, 1),
    uidRange: int(env, 'WRENN_UID_RANGE', 65536, 1024),
    pidsMax: int(env, 'WRENN_PIDS_MAX', 4096, 16),
    memoryOvercommit: positiveRatio(env, 'WRENN_MEMORY_OVERCOMMIT', MEMORY_OVERCOMMIT),
    warmPool: parseWarmPool(env.WRENN_WARM_POOL || ''),
    egressAllow: egressAllowFrom(env.WRENN_EGRESS_ALLOW),
    egressDns: (env.WRENN_EGRESS_DNS ?? '').split(',').map((s) => s.trim()).filter(Boolean),
    egressDnsRefreshSec: int(env, 'WRENN_EGRESS_DNS_REFRESH_SEC', 60, 1),
    netRateBytesPerSec: parseSize(env.WRENN_NET_RATE || '200M', 'WRENN_NET_RATE'),
    netBurstBytes: parseSize(env.WRENN_NET_BURST || '100M', 'WRENN_NET_BURST'),
    runcPath: env.WRENN_RUNC || 'runc',
    criuPath: defaultCriuPath(env),
    snapshotDir: env.WRENN_SNAPSHOT_DIR || join(env.WRENN_DATA_DIR || '/var/lib/wrenn', 'snapshots'),
    snapshotTemplateDir: env.WRENN_SNAPSHOT_TEMPLATE_DIR || join(env.WRENN_DATA_DIR || '/var/lib/wrenn', 'snapshot-templates'),
    lazyRestore: lazyRestoreMode(env.WRENN_LAZY_RESTORE),
    pauseTimeoutMs: int(env, 'WRENN_PAUSE_TIMEOUT_MS', 300_000, 1),
    snapshotPrepareTimeoutMs: int(env, 'WRENN_SNAPSHOT_PREPARE_TIMEOUT_MS', 30000, 1),
    pauseDrainGraceMs: int(env, 'WRENN_PAUSE_DRAIN_GRACE_MS', 5000, 0),
    envdStartTimeoutMs: int(env, 'WRENN_ENVD_START_TIMEOUT_MS', 20000, 1),
    vcpusTotal: int(env, 'WRENN_VCPUS_TOTAL', availableParallelism(), 1),
    startConcurrency: int(env, 'WRENN_START_CONCURRENCY', int(env, 'WRENN_VCPUS_TOTAL', availableParallelism(), 1), 1),
    nftTable: env.WRENN_NFT_TABLE || 'wrenn',
    ifPrefix: env.WRENN_IF_PREFIX || 'wr',
    cgroupParent: env.WRENN_CGROUP_PARENT || 'wrenn',
    ipForward: (env.WRENN_IP_FORWARD ?? 'true') !== 'false',
    logLevel: env.WRENN_LOG_LEVEL || 'info',
    controlPlaneUrl: httpUrl(env, 'WRENN_CONTROL_PLANE_URL'),
    registerToken: env.WRENN_REGISTER_TOKEN || undefined,
    advertiseUrl: httpUrl(env, 'WRENN_AGENT_ADVERTISE_URL'),
    heartbeatSec: int(env, 'WRENN_HEARTBEAT_SEC', 10, 1),
  };
}
