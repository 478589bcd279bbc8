/**
 * Fixture for control plane tests: a real control plane (Fastify on 127.0.0.1, ephemeral
 * port) on embedded PGlite, or on a fresh database of the Postgres server named by
 * WRENN_TEST_DATABASE_URL (CI runs the suite both ways); optionally a real host agent
 * registered as an `up` host. `close()` destroys capsules, the agent, and the database.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { silentLogger, createLogger, type Logger } from '@wrenn/shared';
import { createControlPlane, type ControlPlane, type ControlPlaneExtension } from '../src/app.js';
import { loadControlPlaneConfig } from '../src/start/config.js';
import { newId } from '../src/domain/ids.js';
import { hashPassword, newApiKey, sha256Hex } from '../src/infra/secrets.js';
import type { Role } from '../src/db/schema.js';
import { ContractChecker } from './contract.js';
import { sharedTemplates, startTestAgent, type TestAgent } from '@wrenn/host-agent/testing';

export interface TestControlPlane {
  cp: ControlPlane;
  url: string;
  port: number;
  agent?: TestAgent;
  hostId?: string;
  /** The Postgres database it runs on (unset on PGlite): `startControlPlane({ replicaOf })` joins it. */
  databaseUrl?: string;
  /** JSON request against the API; `auth` is an API key (wrn_...) or a JWT. */
  api<T = any>(method: string, path: string, opts?: { auth?: string; body?: unknown; headers?: Record<string, string> }): Promise<{ status: number; body: T; headers: Headers }>;
  close(): Promise<void>;
}

export interface SeededTeam {
  teamId: string;
  userId: string;
  email: string;
  password: string;
  apiKey: string;
  apiKeyId: string;
  /** A user JWT for the team (role as seeded). */
  jwt: string;
}

async function freshPostgresDatabase(baseUrl: string): Promise<{ url: string; drop: () => Promise<void> }> {
  const name = `wrenn_test_${process.pid}_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: baseUrl });
  await admin.connect();
  await admin.query(`create database ${name}`);
  await admin.end();
  const url = new URL(baseUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: async () => {
      const c = new pg.Client({ connectionString: baseUrl });
      await c.connect();
      await c.query(`drop database if exists ${name} with (force)`);
      await c.end();
    },
  };
}

/** Built-in workers tests leave out unless they pass `disableWorkers` themselves. */
export const TIMER_WORKERS_OFF_BY_DEFAULT = ['host-liveness', 'reconciler'];

export async function startControlPlane(
  opts: {
    withAgent?: boolean;
    agentEnv?: Record<string, string>;
    extensions?: ControlPlaneExtension[];
    env?: Record<string, string>;
    /** The control plane's logger (default: silent, or debug to stdout with WRENN_TEST_LOGS). */
    logger?: Logger;
    disableWorkers?: string[];
    /**
     * Start another replica of this control plane: same database and JWT secret (Postgres
     * only: PGlite is one connection in one process). The database stays the first one's:
     * close the replica first.
     */
    replicaOf?: TestControlPlane;
  } = {},
): Promise<TestControlPlane> {
  const replicaOf = opts.replicaOf;
  if (replicaOf && !replicaOf.databaseUrl) throw new Error('replicaOf needs a control plane on Postgres (WRENN_TEST_DATABASE_URL): PGlite cannot be shared');
  const dataDir = mkdtempSync(join(tmpdir(), 'wrenn-cp-test-'));
  const pgBase = process.env.WRENN_TEST_DATABASE_URL;
  const pgDb = pgBase && !replicaOf ? await freshPostgresDatabase(pgBase) : undefined;
  const databaseUrl = replicaOf?.databaseUrl ?? pgDb?.url;
  const config = loadControlPlaneConfig({
    WRENN_CP_HOST: '127.0.0.1',
    WRENN_CP_PORT: '0',
    WRENN_DATA_DIR: dataDir,
    WRENN_JWT_SECRET: replicaOf?.cp.ctx.config.jwtSecret ?? randomBytes(32).toString('hex'),
    ...(databaseUrl ? { DATABASE_URL: databaseUrl } : {}),
    ...opts.env,
  });
  const logger = opts.logger ?? (process.env.WRENN_TEST_LOGS ? createLogger({ name: 'cp-test', level: 'debug' }) : silentLogger());
  const cp = await createControlPlane({
    config,
    logger,
    inMemoryDatabase: !databaseUrl,
    ...(opts.extensions ? { extensions: opts.extensions } : {}),
    // Liveness and the reconciler act on timers against hosts that never heartbeat here
    // (registerHostDirectly): off unless a test asks for them (it can also run them by hand).
    disableWorkers: opts.disableWorkers ?? TIMER_WORKERS_OFF_BY_DEFAULT,
  });
  const port = await cp.listen();
  const url = `http://127.0.0.1:${port}`;
  const contract = new ContractChecker(cp.app.swagger() as never);
  let agent: TestAgent | undefined;
  let hostId: string | undefined;
  if (opts.withAgent) {
    try {
      await sharedTemplates();
      agent = await startTestAgent(opts.agentEnv ? { env: opts.agentEnv } : {});
      hostId = await registerHostDirectly(cp, agent);
    } catch (err) {
      // A listening control plane would keep the test process alive.
      await agent?.close().catch(() => {});
      await cp.close().catch(() => {});
      await pgDb?.drop().catch(() => {});
      rmSync(dataDir, { recursive: true, force: true });
      throw err;
    }
  }
  const t: TestControlPlane = {
    cp,
    url,
    port,
    ...(agent ? { agent } : {}),
    ...(hostId ? { hostId } : {}),
    ...(databaseUrl ? { databaseUrl } : {}),
    async api(method, path, o = {}) {
      const headers: Record<string, string> = { ...(o.headers ?? {}) };
      if (o.auth) {
        if (o.auth.startsWith('wrn_')) headers['x-api-key'] = o.auth;
        else headers.authorization = `Bearer ${o.auth}`;
      }
      if (o.body !== undefined) headers['content-type'] = 'application/json';
      const res = await fetch(`${url}${path}`, { method, headers, ...(o.body !== undefined ? { body: JSON.stringify(o.body) } : {}) });
      const text = await res.text();
      let body: unknown = text;
      try {
        body = text ? JSON.parse(text) : undefined;
      } catch {
        // not JSON: keep the text
      }
      // Every answer a test receives is also checked against the OpenAPI document.
      contract.checkAnswer(method, path, res.status, res.headers.get('content-type'), body);
      return { status: res.status, body: body as never, headers: res.headers };
    },
    async close() {
      await agent?.close();
      await cp.close();
      await pgDb?.drop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
  return t;
}

/**
 * Inserts the test agent as an `up` host with its address, token and capacity, as the
 * registration flow would (tests of that flow do it for real).
 */
export async function registerHostDirectly(cp: ControlPlane, agent: TestAgent): Promise<string> {
  const id = newId('host');
  const health = await agent.client.health({});
  await cp.ctx.db
    .insertInto('hosts')
    .values({
      id,
      name: `test-${health.hostId}`,
      agent_url: `http://127.0.0.1:${agent.agent.port}`,
      agent_token: agent.config.token!,
      status: 'up',
      vcpus_total: health.vcpusTotal,
      memory_total_bytes: String(health.memoryTotalBytes),
      memory_free_bytes: String(health.memoryFreeBytes),
      disk_free_bytes: String(health.diskFreeBytes),
      capsules: health.capsules,
      version: health.version,
      last_heartbeat_at: new Date(),
    })
    .execute();
  return id;
}

/** A team with one user (given role) and one API key, created straight in the database. */
export async function seedTeam(cp: ControlPlane, opts: { role?: Role; isAdmin?: boolean; email?: string } = {}): Promise<SeededTeam> {
  const teamId = newId('team');
  const userId = newId('usr');
  const email = opts.email ?? `${userId}@example.test`;
  const password = `pw-${randomBytes(8).toString('hex')}`;
  const apiKey = newApiKey();
  const apiKeyId = newId('key');
  await cp.ctx.db.insertInto('teams').values({ id: teamId, name: `team ${teamId}` }).execute();
  await cp.ctx.db
    .insertInto('users')
    .values({ id: userId, email, name: 'Test User', password_hash: await hashPassword(password), is_admin: opts.isAdmin ?? false, default_team_id: teamId })
    .execute();
  await cp.ctx.db.insertInto('memberships').values({ team_id: teamId, user_id: userId, role: opts.role ?? 'owner' }).execute();
  await cp.ctx.db
    .insertInto('api_keys')
    .values({ id: apiKeyId, team_id: teamId, created_by: userId, name: 'test key', key_hash: sha256Hex(apiKey), key_prefix: apiKey.slice(0, 8) })
    .execute();
  const jwt = await cp.ctx.jwt.sign({ kind: 'user', user: userId, team: teamId, role: opts.role ?? 'owner', is_admin: opts.isAdmin ?? false });
  return { teamId, userId, email, password, apiKey, apiKeyId, jwt };
}
