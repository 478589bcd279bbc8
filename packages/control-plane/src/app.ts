/**
 * createControlPlane: the whole HTTP API as a library (docs/decisions.md#c6). The CLI is a thin wrapper;
 * other packages extend it with routes, background workers and middleware instead of
 * copying the bootstrap.
 *
 * @example
 * const cp = await createControlPlane({ config: loadControlPlaneConfig(), extensions: [myExtension] });
 * await cp.listen();
 */
import { randomUUID } from 'node:crypto';
import type { Server as HttpServer } from 'node:http';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import websocket from '@fastify/websocket';
import multipart from '@fastify/multipart';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import { createLogger, type Logger } from '@wrenn/shared';
import type { ControlPlaneContext, Worker } from './context.js';
import { openDatabase } from './db/database.js';
import { AgentPool } from './infra/agent-pool.js';
import { JwtIssuer } from './infra/secrets.js';
import { PrincipalCache } from './infra/principal-cache.js';
import type { Principal } from './domain/accounts/principal.js';
import { Scheduler } from './domain/scheduler.js';
import { clientErrorHandler, frameworkErrors, installErrorHandling } from './http/errors.js';
import { INPUT_SERVER_OPTIONS, installInputGuard } from './http/input-guard.js';
import { markExtensions } from './http/openapi-extensions.js';
import { healthRoutes, CONTROL_PLANE_VERSION } from './http/routes/health.js';
import { dashboardRoutes } from './http/dashboard.js';
import { VERSIONED_ROUTE_MODULES } from './http/routes/index.js';
import { installMetrics } from './http/metrics.js';
import { installAudit } from './http/plugins/audit.js';
import { installUpgradeGuard } from './ws/upgrade-guard.js';
import { installCapsuleProxy } from './proxy/capsule-proxy.js';
import type { ControlPlaneConfig } from './start/config.js';
import { capsuleUsageWorker } from './domain/capsules/usage-worker.js';
import { CapsuleActivity } from './domain/capsules/activity.js';
import { AuditQueue } from './domain/audit.js';
import { PtySessionRegistry } from './ws/pty-registry.js';
import { ResumesInFlight } from './domain/capsules/resumes-in-flight.js';
import { UsableCapsuleMemo } from './domain/capsules/usable-memo.js';
import { HostStartQueues } from './domain/hosts/start-queues.js';
import { KeyUseWrites } from './domain/accounts/key-use.js';
import { ThrottlePruning } from './domain/accounts/throttle.js';
import { BuildRunners } from './domain/builds/registry.js';
import { Mailer } from './infra/mailer.js';
import { oauthLoginRoutes } from './http/routes/accounts/oauth.js';
import { oauthProviders } from './infra/oauth/providers.js';
import { SecretBox } from './infra/secret-box.js';
import { hostLivenessWorker } from './workers/host-liveness.js';
import { reconcilerWorker } from './workers/reconciler.js';
import { buildsWorker } from './workers/builds.js';
import { e2bRoutes } from './http/routes/e2b/index.js';
import { e2bLifetimeWorker } from './domain/e2b/lifetime.js';
import { notificationsWorker } from './workers/notifications.js';

export interface ControlPlaneExtension {
  readonly name: string;
  /** Runs before the built-in routes: hooks, decorators, middleware. */
  middleware?(app: FastifyInstance, ctx: ControlPlaneContext): Promise<void> | void;
  /** Extra routes (registered at the root: give them their own prefix). */
  routes?(app: FastifyInstance, ctx: ControlPlaneContext): Promise<void> | void;
  workers?: Worker[];
}

export interface ControlPlaneOptions {
  config: ControlPlaneConfig;
  logger?: Logger;
  extensions?: ControlPlaneExtension[];
  /** Built-in workers to leave out (tests drive them by hand). */
  disableWorkers?: string[];
  /** In-memory PGlite (tests). */
  inMemoryDatabase?: boolean;
}

export interface ControlPlane {
  readonly app: FastifyInstance;
  readonly ctx: ControlPlaneContext;
  readonly workers: Worker[];
  /** Starts listening and the workers; resolves with the bound port. */
  listen(): Promise<number>;
  close(): Promise<void>;
}

/**
 * Closes what the control plane holds in memory (the ControlPlaneContext members after
 * `principals`): pending writes are written (activity, audit), timers stopped, memories
 * dropped. Called once, when the server closes, before the database does.
 */
export async function closeProcessState(ctx: ControlPlaneContext): Promise<void> {
  ctx.ptys.close();
  ctx.resumes.close();
  ctx.usable.close();
  ctx.startQueues.close();
  ctx.keyUse.close();
  ctx.throttle.close();
  await Promise.all([ctx.activity.close(), ctx.audit.close(), ctx.mailer.close()]);
}

/** Built-in workers; each route module that needs one adds it here through this registry. */
export const BUILTIN_WORKERS: Array<(ctx: ControlPlaneContext) => Worker> = [hostLivenessWorker, reconcilerWorker, capsuleUsageWorker, buildsWorker, e2bLifetimeWorker, notificationsWorker];

export async function createControlPlane(opts: ControlPlaneOptions): Promise<ControlPlane> {
  const { config } = opts;
  const logger = opts.logger ?? createLogger({ name: 'wrenn-control-plane', level: config.logLevel });
  const database = await openDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir, inMemory: opts.inMemoryDatabase }, logger);
  const base = {
    config,
    logger,
    db: database.db,
    dbKind: database.kind,
    jwt: new JwtIssuer(config.jwtSecret, config.jwtTtlSec),
    agents: new AgentPool(config.agentTimeoutMs, config.agentConnectTimeoutMs),
    scheduler: new Scheduler(database.db, config.overcommit),
    principals: new PrincipalCache<Principal>(config.authCacheTtlSec * 1000),
  };
  const activity = new CapsuleActivity(base);
  const ctx: ControlPlaneContext = {
    builds: new BuildRunners(() => ctx),
    secretBox: new SecretBox(config.jwtSecret, 'e2b secrets'),
    mailer: new Mailer(config.smtp),
    oauth: oauthProviders(config.oauth),
    ...base,
    activity,
    audit: new AuditQueue(base),
    ptys: new PtySessionRegistry({ config, logger, activity }),
    resumes: new ResumesInFlight(),
    usable: new UsableCapsuleMemo(),
    startQueues: new HostStartQueues(),
    keyUse: new KeyUseWrites(base),
    throttle: new ThrottlePruning(),
  };

  const app: FastifyInstance = Fastify({
    loggerInstance: logger as unknown as FastifyBaseLogger,
    genReqId: (req) => (typeof req.headers['x-request-id'] === 'string' && req.headers['x-request-id'].length <= 128 ? req.headers['x-request-id'] : randomUUID()),
    logController: new LogController({ requestIdLogLabel: 'requestId', disableRequestLogging: false }),
    trustProxy: config.trustProxy, // request.ip: the client behind a trusted proxy (per-address login throttling)
    // docs/decisions.md#c4: a client that never finishes its headers, or idles, cannot hold a socket forever.
    // Bodies and streams (file transfers, WebSockets) may take as long as they need.
    connectionTimeout: 0,
    keepAliveTimeout: 65_000,
    requestTimeout: 0,
    bodyLimit: 2 * 1024 * 1024,
    ...INPUT_SERVER_OPTIONS,
    // Refusals before routing, and of requests node's parser rejects, in the API's error shape.
    frameworkErrors,
    clientErrorHandler,
  });
  app.server.headersTimeout = 30_000;
  // Capsule port traffic ({port}-{id}.{domain}, E2b-Sandbox-Id/Port) leaves before routing.
  const proxy = installCapsuleProxy(app.server, ctx);
  app.addHook('onSend', async (request, reply) => {
    reply.header('x-request-id', request.id);
  });
  installErrorHandling(app);
  installInputGuard(app);

  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: { title: 'Wrenn API', version: CONTROL_PLANE_VERSION, description: 'Capsules: isolated, pausable sandboxes for untrusted code.' },
      components: {
        securitySchemes: {
          apiKey: { type: 'apiKey', in: 'header', name: 'X-API-Key' },
          bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' },
        },
      },
      security: [{ apiKey: [] }, { bearer: [] }],
    },
    transformObject: (documentObject) => markExtensions('openapiObject' in documentObject ? documentObject.openapiObject : documentObject.swaggerObject),
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });
  // Upgrades reach @fastify/websocket through the proxy, which keeps the proxied ones.
  await app.register(websocket, { options: { maxPayload: 16 * 1024 * 1024, server: proxy.otherUpgrades as unknown as HttpServer } });
  installUpgradeGuard(app);
  await app.register(multipart, { limits: { fileSize: Number.MAX_SAFE_INTEGER, files: 1000 } });
  const metrics = installMetrics(app, ctx);
  proxy.countInto(metrics.registry);
  app.addHook('preClose', async () => proxy.close());
  installAudit(app, ctx);
  // After the last request (and before the database closes): the process's state, in one place.
  app.addHook('onClose', async () => closeProcessState(ctx));

  for (const ext of opts.extensions ?? []) await ext.middleware?.(app, ctx);
  await healthRoutes(app, ctx);
  await dashboardRoutes(app);
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
  app.get('/openapi.yaml', { schema: { hide: true } }, async (_req, reply) => reply.type('application/yaml').send(app.swagger({ yaml: true })));
  for (const prefix of ['/v1', '/api/v1']) {
    await app.register(
      async (scope) => {
        for (const mod of VERSIONED_ROUTE_MODULES) await mod(scope, ctx);
      },
      { prefix },
    );
  }
  // OAuth login also where Wrenn's own server routes it, without /v1 (out of the document: the /v1 paths describe it).
  await oauthLoginRoutes(app, ctx, { hide: true });
  // The E2B-compatible API at the root, where the e2b SDK looks for it.
  await e2bRoutes(app, ctx);
  for (const ext of opts.extensions ?? []) await ext.routes?.(app, ctx);

  const disabled = new Set(opts.disableWorkers ?? []);
  const workers = [...BUILTIN_WORKERS.map((make) => make(ctx)), ...(opts.extensions ?? []).flatMap((e) => e.workers ?? [])].filter(
    (w) => !disabled.has(w.name),
  );
  await app.ready();

  let started = false;
  return {
    app,
    ctx,
    workers,
    async listen() {
      await app.listen({ host: config.host, port: config.port });
      const addr = app.server.address();
      for (const w of workers) w.start(ctx);
      started = true;
      return typeof addr === 'object' && addr ? addr.port : config.port;
    },
    async close() {
      if (started) for (const w of workers) await w.stop();
      metrics.stop();
      await app.close();
      ctx.agents.clear();
      await database.close();
    },
  };
}
