/**
 * The envd server: one HTTP/1.1 listener carrying Connect RPC (process.Process,
 * filesystem.Filesystem) and envd's plain HTTP routes, behind one authentication check.
 */
import { createServer, type Server } from 'node:http';
import { randomUUID } from 'node:crypto';
import { connectNodeAdapter } from '@connectrpc/connect-node';
import type { ConnectRouter } from '@connectrpc/connect';
import { WrennError, type Logger } from '@wrenn/shared';
import { errorInterceptor } from './core/rpc-errors.js';
import { isAuthorized } from './core/auth.js';
import type { EnvdContext } from './core/context.js';
import { ConnectionTracker } from './core/connections.js';
import { EnvdState } from './core/state.js';
import { UserDirectory } from './core/users.js';
import type { Subsystem } from './core/subsystem.js';
import type { EnvdConfig } from './start/config.js';
import { HttpRouter } from './http/router.js';
import { sendError } from './http/respond.js';
import { registerControlRoutes } from './http/control.js';
import { registerFileRoutes } from './http/files.js';
import { registerMetricsRoute } from './http/metrics.js';
import { registerProcessService, ProcessManager } from './process/index.js';
import { registerFilesystemService, WatcherRegistry } from './filesystem/index.js';
import { PortSubsystem } from './ports/index.js';

export interface Envd {
  readonly server: Server;
  readonly ctx: EnvdContext;
  readonly processes: ProcessManager;
  /** Resolves with the bound port once listening. */
  listen(): Promise<number>;
  /** Stops accepting, kills every process, stops subsystems and closes connections. */
  close(): Promise<void>;
}

export function createEnvd(config: EnvdConfig, logger: Logger, etcDir = '/etc'): Envd {
  const subsystems: Subsystem[] = [];
  const ctx: EnvdContext = {
    config,
    state: new EnvdState(config.runDir, config.defaultUser),
    users: new UserDirectory(etcDir),
    logger,
    connections: new ConnectionTracker(),
    subsystems,
  };
  const processes = new ProcessManager(ctx);
  const watchers = new WatcherRegistry(ctx);
  if (config.portForwarding) subsystems.push(new PortSubsystem(ctx));

  const rpc = connectNodeAdapter({
    interceptors: [errorInterceptor],
    // No gzip on RPC streams: output is mostly incompressible and compressing it costs CPU
    // the capsule pays for; the caller is on the same host.
    acceptCompression: [],
    // Uploads travel over /files; RPC messages are small, but PTY input can come in bursts.
    readMaxBytes: 16 * 1024 * 1024,
    routes: (router: ConnectRouter) => {
      registerProcessService(router, ctx, processes);
      registerFilesystemService(router, ctx, watchers);
    },
  });

  const http = new HttpRouter();
  registerControlRoutes(http);
  registerFileRoutes(http);
  registerMetricsRoute(http);

  const server = createServer({ requestTimeout: 0, headersTimeout: 30_000, keepAliveTimeout: 65_000 }, (req, res) => {
    const url = new URL(req.url ?? '/', 'http://envd');
    const requestId = (req.headers['x-request-id'] as string | undefined) ?? randomUUID();
    res.setHeader('x-request-id', requestId);
    // While prepared for a snapshot no connection should stay open into it; the /init that
    // ends that state (after a restore) opens the first connection worth keeping.
    if (ctx.state.preparedForSnapshot && url.pathname !== '/init') res.shouldKeepAlive = false;
    if (!isAuthorized(url, req.method ?? 'GET', req.headers, ctx.state)) {
      sendError(res, new WrennError('unauthenticated', 'missing or wrong X-Access-Token'));
      return;
    }
    const slash = url.pathname.indexOf('/', 1);
    const service = slash > 0 ? url.pathname.slice(1, slash) : '';
    if (service === 'process.Process' || service === 'filesystem.Filesystem') {
      rpc(req, res);
      return;
    }
    void http.handle(req, res, url, ctx);
  });
  ctx.connections.attach(server);
  server.on('clientError', (_err, socket) => socket.destroy());

  return {
    server,
    ctx,
    processes,
    listen: () =>
      new Promise<number>((resolve, reject) => {
        server.once('error', reject);
        server.listen(config.port, config.host, () => {
          server.off('error', reject);
          for (const s of subsystems) s.start();
          const addr = server.address();
          resolve(typeof addr === 'object' && addr ? addr.port : config.port);
        });
      }),
    close: async () => {
      await Promise.allSettled(subsystems.map((s) => s.stop()));
      await watchers.closeAll();
      await processes.killAll();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}
