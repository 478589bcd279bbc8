/** Control plane configuration from WRENN_* variables, validated once at start. */
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface ControlPlaneConfig {
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
  /** Deadline of control plane → agent calls (H4: minutes, not seconds). WRENN_AGENT_TIMEOUT_MS, default 300000. */
  agentTimeoutMs: number;
  /** Allow POST /v1/auth/signup. WRENN_SIGNUP, default true. */
  signupEnabled: boolean;
  /** A PTY session with no WebSocket attached is killed after this long. WRENN_PTY_IDLE_TIMEOUT_SEC, default 120. */
  ptyIdleTimeoutSec: number;
  /** Period of the `{type:"ping"}` keep-alive on WebSockets. WRENN_WS_PING_INTERVAL_SEC, default 30. */
  wsPingIntervalSec: number;
  /** How long a WebSocket without credentials in its upgrade may take to send `{type:"auth"}`. WRENN_WS_AUTH_TIMEOUT_SEC, default 5. */
  wsAuthTimeoutSec: number;
  /**
   * How long an authenticated credential (API key, JWT) is remembered without asking the
   * database again. A change made through this control plane (key revoked, user disabled,
   * member removed) applies at once; one made elsewhere (another replica, by hand) within
   * this time. WRENN_AUTH_CACHE_TTL_SEC, default 5; 0 = check every call.
   */
  authCacheTtlSec: number;
  logLevel: string;
}

function int(env: NodeJS.ProcessEnv, name: string, fallback: number, min = 0): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min) throw new Error(`${name} must be an integer ≥ ${min}, got ${JSON.stringify(raw)}`);
  return n;
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

export function loadControlPlaneConfig(env: NodeJS.ProcessEnv = process.env): ControlPlaneConfig {
  const host = env.WRENN_CP_HOST || '127.0.0.1';
  const port = int(env, 'WRENN_CP_PORT', 8080);
  const dataDir = env.WRENN_DATA_DIR || '/var/lib/wrenn';
  const jwtSecret = env.WRENN_JWT_SECRET || secretFromDataDir(dataDir, 'jwt-secret');
  if (jwtSecret.length < 32) throw new Error('WRENN_JWT_SECRET must be at least 32 characters');
  return {
    host,
    port,
    publicUrl: env.WRENN_PUBLIC_URL || `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${port}`,
    ...(env.DATABASE_URL ? { databaseUrl: env.DATABASE_URL } : {}),
    dataDir,
    jwtSecret,
    jwtTtlSec: int(env, 'WRENN_JWT_TTL_SEC', 6 * 3600, 60),
    hostDownAfterSec: int(env, 'WRENN_HOST_DOWN_AFTER_SEC', 30, 1),
    reconcileIntervalSec: int(env, 'WRENN_RECONCILE_INTERVAL_SEC', 30, 1),
    agentTimeoutMs: int(env, 'WRENN_AGENT_TIMEOUT_MS', 300_000, 1000),
    signupEnabled: (env.WRENN_SIGNUP ?? 'true') !== 'false',
    ptyIdleTimeoutSec: int(env, 'WRENN_PTY_IDLE_TIMEOUT_SEC', 120, 1),
    wsPingIntervalSec: int(env, 'WRENN_WS_PING_INTERVAL_SEC', 30, 1),
    wsAuthTimeoutSec: int(env, 'WRENN_WS_AUTH_TIMEOUT_SEC', 5, 1),
    authCacheTtlSec: int(env, 'WRENN_AUTH_CACHE_TTL_SEC', 5, 0),
    logLevel: env.WRENN_LOG_LEVEL || 'info',
  };
}
