/** Control plane configuration from WRENN_* variables, validated once at start. */
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_OVERCOMMIT, type OvercommitRatios } from '../domain/scheduler.js';
import { int } from '@wrenn/shared';
import { loadAuthDeliveryConfig, type AuthDeliveryConfig } from './config-auth.js';

export interface ControlPlaneConfig extends AuthDeliveryConfig {
  /** WRENN_CP_HOST (default 127.0.0.1) and WRENN_CP_PORT (default 8080). */
  host: string;
  port: number;
  /** URL users reach the API at (printed, used in links). WRENN_PUBLIC_URL, default http://host:port. */
  publicUrl: string;
  /** Postgres server; unset = embedded PGlite under dataDir/db. DATABASE_URL. */
  databaseUrl?: string;
  /** WRENN_DATA_DIR (default /var/lib/wrenn): PGlite files, the JWT secret. */
  dataDir: string;
  /** HS256 secret for user and host JWTs. WRENN_JWT_SECRET; generated into dataDir when unset. */
  jwtSecret: string;
  /** User JWT lifetime. WRENN_JWT_TTL_SEC, default 21600 (6 h). */
  jwtTtlSec: number;
  /** A host is `down` after this long without heartbeat. WRENN_HOST_DOWN_AFTER_SEC, default 30. */
  hostDownAfterSec: number;
  /** Reconciler period. WRENN_RECONCILE_INTERVAL_SEC, default 30. */
  reconcileIntervalSec: number;
  /** Deadline of control plane → agent calls (docs/decisions.md#h4: minutes, not seconds). WRENN_AGENT_TIMEOUT_MS, default 300000. */
  agentTimeoutMs: number;
  /**
   * How long a new connection to an agent may take before the agent counts as unreachable
   * (a dead machine answers nothing; the placement then tries the next host and marks this
   * one suspect). WRENN_AGENT_CONNECT_TIMEOUT_MS, default 3000.
   */
  agentConnectTimeoutMs: number;
  /** Size of an E2B volume's ext4 image (sparse: only written blocks take space). WRENN_VOLUME_SIZE_MB, default 1024. */
  volumeSizeMb: number;
  /** Allow POST /v1/auth/signup. WRENN_SIGNUP, default true. */
  signupEnabled: boolean;
  /** A PTY session with no WebSocket attached is killed after this long. WRENN_PTY_IDLE_TIMEOUT_SEC, default 120. */
  ptyIdleTimeoutSec: number;
  /** Period of the `{type:"ping"}` keep-alive on WebSockets. WRENN_WS_PING_INTERVAL_SEC, default 30. */
  wsPingIntervalSec: number;
  /** How long a WebSocket without credentials in its upgrade may take to send `{type:"auth"}`. WRENN_WS_AUTH_TIMEOUT_SEC, default 5. */
  wsAuthTimeoutSec: number;
  /**
   * How often an open WebSocket re-checks the credentials it was opened with (a revoked key,
   * removed member or ended session closes it with 4401). A change made through this
   * control plane is seen at once; one made elsewhere within this + WRENN_AUTH_CACHE_TTL_SEC.
   * WRENN_WS_REAUTH_SEC, default 10.
   */
  wsReauthSec: number;
  /**
   * How long an authenticated credential (API key, JWT) is remembered without asking the
   * database again. A change made through this control plane (key revoked, user disabled,
   * member removed) applies at once; one made elsewhere (another replica, by hand) within
   * this time. WRENN_AUTH_CACHE_TTL_SEC, default 5; 0 = check every call.
   */
  authCacheTtlSec: number;
  /**
   * Login throttling: after this many failed logins for one email, or from one client
   * address (an IPv6 client by its /64), within `loginWindowSec`, logins for it are refused
   * with 429 and Retry-After (bad activation tokens per address likewise). Counted in the
   * database, so it holds across replicas. WRENN_LOGIN_MAX_FAILURES, default 10.
   */
  loginMaxFailures: number;
  /**
   * Failed logins from one client address (any emails) within the window that lock the
   * address: higher than the per-email limit, since many users may share an address. A
   * locked address still lets in a correct password for an email with no failures.
   * WRENN_LOGIN_MAX_FAILURES_PER_ADDRESS, default 100.
   */
  loginMaxFailuresPerAddress: number;
  /** The sliding window of `loginMaxFailures`. WRENN_LOGIN_WINDOW_SEC, default 900 (15 min). */
  loginWindowSec: number;
  /**
   * Which X-Forwarded-For hops to believe for the client address (per-address login
   * throttling, logs). Behind a reverse proxy or load balancer set it, or every client
   * shares the proxy's address. WRENN_TRUST_PROXY: unset/`false` (default: the socket's
   * peer), `true` (any hop: only when nothing else can reach the port), or a
   * comma-separated list of proxy addresses/CIDRs (`loopback`, `10.0.0.0/8`, ...).
   */
  trustProxy: boolean | string[];
  /**
   * Domain of proxied capsule ports: a request for host `{port}-{capsuleId}.{domain}` goes
   * to that port of the capsule (E2B's sandbox host names). WRENN_PROXY_DOMAIN, e.g.
   * `wrenn.example.com` with a wildcard DNS record; unset = host names are not proxied
   * (the `E2b-Sandbox-Id` + `E2b-Sandbox-Port` header form always is).
   */
  proxyDomain: string | undefined;
  /** Overcommit ratios of placement: WRENN_CPU_OVERCOMMIT (64), WRENN_MEMORY_OVERCOMMIT (3), WRENN_DISK_OVERCOMMIT (1). */
  overcommit: OvercommitRatios;
  /**
   * What one team may hold at once (0 = no limit): capsules that are not stopped
   * (WRENN_TEAM_MAX_CAPSULES), and the vCPUs, memory and disk granted to them
   * (WRENN_TEAM_MAX_VCPUS, WRENN_TEAM_MAX_MEMORY_MB, WRENN_TEAM_MAX_DISK_MB).
   */
  teamQuota: TeamQuota;
  /**
   * Bearer token GET /metrics requires (WRENN_METRICS_TOKEN); unset, /metrics answers only
   * loopback clients that came through no proxy.
   */
  metricsToken: string | undefined;
  logLevel: string;
  /** Template builds running at once on one host. WRENN_BUILDS_PER_HOST, default 2. */
  buildsPerHost: number;
  /** Largest build context archive accepted. WRENN_BUILD_CONTEXT_MAX_BYTES, default 100 MB. */
  buildContextMaxBytes: number;
  /** Timeout of a RUN step that names none. WRENN_BUILD_STEP_TIMEOUT_SEC, default 600. */
  buildStepTimeoutSec: number;
  /** Notification channels (docs/notifications.md). */
  notifications: NotificationConfig;
}

export interface TeamQuota {
  capsules: number;
  vcpus: number;
  memoryMb: number;
  diskMb: number;
}

function positiveNumber(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`${name} must be a number > 0, got ${JSON.stringify(raw)}`);
  return n;
}

function positiveNumberOrZero(env: NodeJS.ProcessEnv, name: string): number {
  const raw = env[name];
  if (raw === undefined || raw === '' || raw === '0') return 0;
  return positiveNumber(env, name, 0);
}


function trustProxyFrom(env: NodeJS.ProcessEnv): boolean | string[] {
  const raw = (env.WRENN_TRUST_PROXY ?? '').trim();
  if (raw === '' || raw === 'false') return false;
  if (raw === 'true') return true;
  // Fastify trusts no hop for a bare count (the peer cannot be checked): name the proxies instead.
  if (/^\d+$/.test(raw)) throw new Error(`WRENN_TRUST_PROXY takes true, false or proxy addresses/CIDRs, not a hop count (${raw}): list your proxies' addresses`);
  const list = raw.split(',').map((s) => s.trim()).filter(Boolean);
  // proxy-addr's syntax (what Fastify hands the list to): addresses, CIDRs and its three names.
  if (list.length === 0 || list.some((a) => !/^(?:[0-9a-fA-F:.]+(?:\/\d{1,3})?|loopback|linklocal|uniquelocal)$/.test(a))) {
    throw new Error(`WRENN_TRUST_PROXY must be true, false, or comma-separated proxy addresses/CIDRs (or loopback, linklocal, uniquelocal), got ${JSON.stringify(raw)}`);
  }
  return list;
}

function secretFromDataDir(dataDir: string, name: string): string {
  const path = join(dataDir, name);
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    mkdirSync(dataDir, { recursive: true, mode: 0o711 });
    const value = randomBytes(32).toString('hex');
    try {
      writeFileSync(path, `${value}\n`, { mode: 0o600, flag: 'wx' });
      return value;
    } catch {
      return readFileSync(path, 'utf8').trim();
    }
  }
}

function proxyDomain(raw: string | undefined): string | undefined {
  if (raw === undefined || raw === '') return undefined;
  const domain = raw.trim().toLowerCase().replace(/^\.+|\.+$/g, '');
  if (!/^[a-z0-9-]+(\.[a-z0-9-]+)*$/.test(domain)) throw new Error(`WRENN_PROXY_DOMAIN must be a DNS name like wrenn.example.com, got ${JSON.stringify(raw)}`);
  return domain;
}

function metricsToken(raw: string | undefined): string | undefined {
  if (raw === undefined || raw === '') return undefined;
  if (raw.length < 16) throw new Error('WRENN_METRICS_TOKEN must be at least 16 characters');
  return raw;
}

export interface NotificationConfig {
  /** Channels may reach loopback/private/link-local addresses. WRENN_CHANNEL_ALLOW_PRIVATE, default false. */
  allowPrivate: boolean;
  /** Telegram Bot API base URL. WRENN_TELEGRAM_API_URL, default https://api.telegram.org. */
  telegramApiUrl: string;
  /** How often the outbox is scanned. WRENN_NOTIFY_INTERVAL_MS, default 1000. */
  intervalMs: number;
  /** First retry delay; doubled per attempt (capped at 1 h). WRENN_NOTIFY_RETRY_BASE_MS, default 5000. */
  retryBaseMs: number;
  /** Attempts before a delivery is given up. WRENN_NOTIFY_MAX_ATTEMPTS, default 8. */
  maxAttempts: number;
  /** Deadline of one delivery request. WRENN_NOTIFY_TIMEOUT_MS, default 10000. */
  timeoutMs: number;
}

export function loadControlPlaneConfig(env: NodeJS.ProcessEnv = process.env): ControlPlaneConfig {
  const host = env.WRENN_CP_HOST || '127.0.0.1';
  const port = int(env, 'WRENN_CP_PORT', 8080);
  const dataDir = env.WRENN_DATA_DIR || '/var/lib/wrenn';
  const jwtSecret = env.WRENN_JWT_SECRET || secretFromDataDir(dataDir, 'jwt-secret');
  if (jwtSecret.length < 32) throw new Error('WRENN_JWT_SECRET must be at least 32 characters');
  const publicUrl = env.WRENN_PUBLIC_URL || `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${port}`;
  return {
    host,
    port,
    publicUrl,
    ...loadAuthDeliveryConfig(env, publicUrl),
    ...(env.DATABASE_URL ? { databaseUrl: env.DATABASE_URL } : {}),
    dataDir,
    jwtSecret,
    jwtTtlSec: int(env, 'WRENN_JWT_TTL_SEC', 6 * 3600, 60),
    hostDownAfterSec: int(env, 'WRENN_HOST_DOWN_AFTER_SEC', 30, 1),
    reconcileIntervalSec: int(env, 'WRENN_RECONCILE_INTERVAL_SEC', 30, 1),
    agentTimeoutMs: int(env, 'WRENN_AGENT_TIMEOUT_MS', 300_000, 1000),
    agentConnectTimeoutMs: int(env, 'WRENN_AGENT_CONNECT_TIMEOUT_MS', 3000, 100),
    volumeSizeMb: int(env, 'WRENN_VOLUME_SIZE_MB', 1024, 64),
    signupEnabled: (env.WRENN_SIGNUP ?? 'true') !== 'false',
    ptyIdleTimeoutSec: int(env, 'WRENN_PTY_IDLE_TIMEOUT_SEC', 120, 1),
    wsPingIntervalSec: int(env, 'WRENN_WS_PING_INTERVAL_SEC', 30, 1),
    wsAuthTimeoutSec: int(env, 'WRENN_WS_AUTH_TIMEOUT_SEC', 5, 1),
    wsReauthSec: int(env, 'WRENN_WS_REAUTH_SEC', 10, 1),
    authCacheTtlSec: int(env, 'WRENN_AUTH_CACHE_TTL_SEC', 5, 0),
    loginMaxFailures: int(env, 'WRENN_LOGIN_MAX_FAILURES', 10, 1),
    loginMaxFailuresPerAddress: int(env, 'WRENN_LOGIN_MAX_FAILURES_PER_ADDRESS', 100, 1),
    loginWindowSec: int(env, 'WRENN_LOGIN_WINDOW_SEC', 900, 1),
    trustProxy: trustProxyFrom(env),
    proxyDomain: proxyDomain(env.WRENN_PROXY_DOMAIN),
    metricsToken: metricsToken(env.WRENN_METRICS_TOKEN),
    overcommit: {
      cpu: positiveNumber(env, 'WRENN_CPU_OVERCOMMIT', DEFAULT_OVERCOMMIT.cpu),
      memory: positiveNumber(env, 'WRENN_MEMORY_OVERCOMMIT', DEFAULT_OVERCOMMIT.memory),
      disk: positiveNumber(env, 'WRENN_DISK_OVERCOMMIT', DEFAULT_OVERCOMMIT.disk),
    },
    teamQuota: {
      capsules: int(env, 'WRENN_TEAM_MAX_CAPSULES', 0),
      vcpus: positiveNumberOrZero(env, 'WRENN_TEAM_MAX_VCPUS'),
      memoryMb: int(env, 'WRENN_TEAM_MAX_MEMORY_MB', 0),
      diskMb: int(env, 'WRENN_TEAM_MAX_DISK_MB', 0),
    },
    logLevel: env.WRENN_LOG_LEVEL || 'info',
    buildsPerHost: int(env, 'WRENN_BUILDS_PER_HOST', 2, 1),
    buildContextMaxBytes: int(env, 'WRENN_BUILD_CONTEXT_MAX_BYTES', 100_000_000, 1024),
    buildStepTimeoutSec: int(env, 'WRENN_BUILD_STEP_TIMEOUT_SEC', 600, 1),
    notifications: {
      allowPrivate: (env.WRENN_CHANNEL_ALLOW_PRIVATE ?? 'false') === 'true',
      telegramApiUrl: env.WRENN_TELEGRAM_API_URL || 'https://api.telegram.org',
      intervalMs: int(env, 'WRENN_NOTIFY_INTERVAL_MS', 1000, 50),
      retryBaseMs: int(env, 'WRENN_NOTIFY_RETRY_BASE_MS', 5000, 10),
      maxAttempts: int(env, 'WRENN_NOTIFY_MAX_ATTEMPTS', 8, 1),
      timeoutMs: int(env, 'WRENN_NOTIFY_TIMEOUT_MS', 10_000, 100),
    },
  };
}
