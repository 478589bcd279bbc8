/**
 * GET /files (download) and POST /files (upload) on behalf of the acting user: the
 * `username` query parameter, else Basic auth, else the capsule's default user. envd runs
 * as root, so every read and write is checked against that user's permissions first.
 */
import type { IncomingMessage } from 'node:http';
import { posix } from 'node:path';
import { actingUser } from '../core/auth.js';
import type { EnvdContext } from '../core/context.js';
import { resolveUserPath } from '../core/paths.js';
import type { UserInfo } from '../core/users.js';
import { sendFile } from './files-download.js';
import { commitAll, isMultipart, receiveMultipart, receiveRaw } from './files-upload.js';
import type { HttpRouter } from './router.js';
import { sendJson } from './respond.js';

/** One written file, as the e2b SDK expects it in the upload response. */
export interface WrittenEntry {
  readonly path: string;
  readonly name: string;
  readonly type: 'file';
}

const METADATA_HEADER = 'x-metadata-';

/** `X-Metadata-<key>: value` request headers → `{ key: value }` (keys arrive lower-cased). */
export function metadataFromHeaders(req: IncomingMessage): Record<string, string> {
  const metadata: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (!name.startsWith(METADATA_HEADER) || name.length === METADATA_HEADER.length || value === undefined) continue;
    metadata[name.slice(METADATA_HEADER.length)] = Array.isArray(value) ? value.join(', ') : value;
  }
  return metadata;
}

function userOf(req: IncomingMessage, url: URL, ctx: EnvdContext): UserInfo {
  return actingUser(ctx.users, ctx.state, {
    explicit: url.searchParams.get('username'),
    authorization: req.headers.authorization,
  });
}

export function registerFileRoutes(router: HttpRouter): void {
  router.add('GET', '/files', async (req, res, url, ctx) => {
    const user = userOf(req, url, ctx);
    const path = resolveUserPath(url.searchParams.get('path') ?? '', user);
    await sendFile(req, res, path, user);
  });

  router.add('POST', '/files', async (req, res, url, ctx) => {
    const started = Date.now();
    const user = userOf(req, url, ctx);
    const path = url.searchParams.get('path') || null;
    const opts = { metadata: metadataFromHeaders(req) };
    const staged = isMultipart(req) ? await receiveMultipart(req, path, user, opts) : await receiveRaw(req, path, user, opts);
    await commitAll(staged);
    const entries: WrittenEntry[] = staged.map((s) => ({ path: s.path, name: posix.basename(s.path), type: 'file' }));
    ctx.logger.debug({ user: user.name, files: entries.length, durationMs: Date.now() - started }, 'files uploaded');
    sendJson(res, 200, entries);
  });
}
