/**
 * The dashboard (packages/web, built by `npm run build` into packages/web/dist) served at
 * `/`: index.html and its hashed /assets/*. The dashboard routes by URL hash, so no API
 * path is shadowed; index.html is also served at the few paths the server's own links point
 * to (under WRENN_APP_URL, as Wrenn's dashboard names them): the activation and password-reset links, the
 * OAuth result and the provider-link result. Files are read per request (they are few and
 * small); a missing build answers with a page saying how to make it.
 */
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { extname, join } from 'node:path';
import type { FastifyInstance, FastifyReply } from 'fastify';

/**
 * Paths that answer with the dashboard: its root, and where the server's links land (the
 * reset link carries its token in the query: no-referrer keeps it from leaving the page).
 */
const APP_PATHS = ['/', '/activate', '/reset-password', '/auth/:provider/callback', '/dashboard/settings'];

export const DASHBOARD_DIR = fileURLToPath(new URL('../../../web/dist/', import.meta.url));

const TYPES: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.woff2': 'font/woff2',
  '.json': 'application/json',
};

// Everything comes from this origin; blob: for file previews and downloads; inline styles
// for the terminal and charts, which size their elements with style attributes.
const CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' blob: data:",
  "connect-src 'self' ws: wss:",
  "frame-ancestors 'none'",
  "base-uri 'none'",
  "form-action 'self'",
].join('; ');

async function read(path: string): Promise<Buffer | undefined> {
  try {
    return await readFile(path);
  } catch {
    return undefined;
  }
}

export async function dashboardRoutes(app: FastifyInstance, dir = DASHBOARD_DIR): Promise<void> {
  const index = async (_request: unknown, reply: FastifyReply) => {
    const html = await read(join(dir, 'index.html'));
    reply.header('cache-control', 'no-cache').header('content-security-policy', CSP).header('x-content-type-options', 'nosniff').header('referrer-policy', 'no-referrer');
    if (!html) return reply.code(503).type('text/plain; charset=utf-8').send('The dashboard is not built: run `npm run build` (the API is at /v1, its docs at /docs).\n');
    return reply.type('text/html; charset=utf-8').send(html);
  };
  for (const path of APP_PATHS) app.get(path, { schema: { hide: true } }, index);
  app.get<{ Params: { file: string } }>('/assets/:file', { schema: { hide: true } }, async (request, reply) => {
    const { file } = request.params;
    // One plain file name: nothing outside the assets directory can be named.
    const type = TYPES[extname(file)];
    const body = /^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(file) && type ? await read(join(dir, 'assets', file)) : undefined;
    if (!body) return reply.callNotFound();
    return reply.type(type!).header('cache-control', 'public, max-age=31536000, immutable').header('x-content-type-options', 'nosniff').send(body);
  });
}
