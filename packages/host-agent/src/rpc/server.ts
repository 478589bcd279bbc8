/**
 * The agent's RPC listener: Connect over HTTP/2 cleartext (client-streamed file uploads
 * need HTTP/2), behind the bearer-token check and the error mapping.
 */
import { createServer, type Http2Server, type Http2ServerRequest, type Http2ServerResponse } from 'node:http2';
import { listener } from '../infra/listener.js';
import { connectNodeAdapter } from '@connectrpc/connect-node';
import { Code, type ConnectRouter, type Interceptor } from '@connectrpc/connect';
import type { Logger } from '@wrenn/shared';
import { connectErrorInterceptor } from '@wrenn/shared/connect';
import { bearerAuth } from './auth.js';

export function errorInterceptor(logger: Logger): Interceptor {
  return connectErrorInterceptor((method, err, durationMs) =>
    logger.info({ method, code: Code[err.code], err: err.rawMessage, durationMs }, 'rpc failed'),
  );
}

export interface AgentServer {
  readonly server: Http2Server;
  listen(port: number, host: string): Promise<number>;
  close(): Promise<void>;
}

export function createAgentServer(opts: { token: string; logger: Logger; routes: (router: ConnectRouter) => void }): AgentServer {
  const handler = connectNodeAdapter({
    // Auth runs first: an unauthenticated caller learns nothing, not even validation errors.
    interceptors: [bearerAuth(opts.token), errorInterceptor(opts.logger)],
    routes: opts.routes,
    // No gzip: file contents and process output are mostly incompressible, and compressing
    // them capped ReadFile at ~40 MB/s of CPU. Agent traffic stays on the host or the LAN.
    acceptCompression: [],
    readMaxBytes: 64 * 1024 * 1024,
  });
  const server = createServer((req: Http2ServerRequest, res: Http2ServerResponse) => handler(req, res));
  const { listen, close } = listener(server);
  return {
    server,
    listen,
    close: () => close(),
  };
}
