/** Dispatch of envd's plain HTTP routes (everything that is not Connect RPC). */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { WrennError } from '@wrenn/shared';
import type { EnvdContext } from '../core/context.js';
import { sendError } from './respond.js';

export type HttpHandler = (req: IncomingMessage, res: ServerResponse, url: URL, ctx: EnvdContext) => Promise<void> | void;

export class HttpRouter {
  private readonly routes = new Map<string, Map<string, HttpHandler>>();

  add(method: string, path: string, handler: HttpHandler): this {
    const byMethod = this.routes.get(path) ?? new Map<string, HttpHandler>();
    byMethod.set(method, handler);
    this.routes.set(path, byMethod);
    return this;
  }

  async handle(req: IncomingMessage, res: ServerResponse, url: URL, ctx: EnvdContext): Promise<void> {
    try {
      const byMethod = this.routes.get(url.pathname);
      if (!byMethod) throw new WrennError('not_found', `no route ${req.method} ${url.pathname}`);
      const handler = byMethod.get(req.method ?? 'GET') ?? (req.method === 'HEAD' ? byMethod.get('GET') : undefined);
      if (!handler) {
        res.setHeader('allow', [...byMethod.keys()].join(', '));
        throw new WrennError('invalid_argument', `method ${req.method} is not allowed on ${url.pathname}`);
      }
      await handler(req, res, url, ctx);
    } catch (err) {
      sendError(res, err);
    }
  }
}
