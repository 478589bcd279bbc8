/**
 * The agent's RPC listener: Connect over HTTP/2 cleartext (client-streamed file uploads
 * need HTTP/2), behind the bearer-token check and the error mapping.
 */
import { createServer, type Http2Server, type Http2ServerRequest, type Http2ServerResponse } from 'node:http2';
import type { Socket } from 'node:net';
import { connectNodeAdapter } from '@connectrpc/connect-node';
import type { ConnectRouter, Interceptor } from '@connectrpc/connect';
import { Code, ConnectError } from '@connectrpc/connect';
import { WrennError, fromSystemError, type Logger } from '@wrenn/shared';
import { bearerAuth } from './auth.js';

function toConnectError(err: unknown): ConnectError {
  if (err instanceof ConnectError) return err;
  const e = err instanceof WrennError ? err : (err as NodeJS.ErrnoException)?.code ? fromSystemError(err) : undefined;
  if (e) return new ConnectError(e.message, e.connectCode as number as Code, { 'x-wrenn-error-code': e.code }, undefined, err);
  return new ConnectError(err instanceof Error ? err.message : String(err), Code.Internal, undefined, undefined, err);
}

async function* mapStreamErrors<T>(stream: AsyncIterable<T>): AsyncGenerator<T> {
  try {
    yield* stream;
  } catch (err) {
    throw toConnectError(err);
  }
}

export function errorInterceptor(logger: Logger): Interceptor {
  return (next) => async (req) => {
    const started = Date.now();
    try {
      const res = await next(req);
      if (res.stream) return { ...res, message: mapStreamErrors(res.message) };
      logger.debug({ method: req.method.name, durationMs: Date.now() - started }, 'rpc');
      return res;
    } catch (err) {
      const ce = toConnectError(err);
      logger.info({ method: req.method.name, code: Code[ce.code], err: ce.rawMessage, durationMs: Date.now() - started }, 'rpc failed');
      throw ce;
    }
  };
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
    readMaxBytes: 64 * 1024 * 1024,
  });
  const server = createServer((req: Http2ServerRequest, res: Http2ServerResponse) => handler(req, res));
  const sockets = new Set<Socket>();
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  });
  return {
    server,
    listen: (port, host) =>
      new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => {
          server.off('error', reject);
          const addr = server.address();
          resolve(typeof addr === 'object' && addr ? addr.port : port);
        });
      }),
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      }),
  };
}
