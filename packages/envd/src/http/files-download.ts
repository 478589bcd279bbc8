/**
 * GET /files: streams one regular file to the client, never holding it in memory, with
 * a single byte range (206/416) or gzip content coding when the client asks for it.
 */
import { promises as fsp } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { posix } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { WrennError, fromSystemError } from '@wrenn/shared';
import { ensureAccess } from '../core/permissions.js';
import type { UserInfo } from '../core/users.js';
import { parseRange } from './files-range.js';

/** `attachment` with an ASCII fallback name and the exact UTF-8 name (RFC 6266). */
export function contentDisposition(name: string): string {
  const fallback = name.replace(/[^\x20-\x7e]|["\\%]/g, '_');
  const exact = encodeURIComponent(name).replace(/['()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  return `attachment; filename="${fallback}"; filename*=UTF-8''${exact}`;
}

/**
 * True when the client asks specifically for gzip (`Accept-Encoding: gzip`, optionally with
 * a q-value). A list of codings (`gzip, deflate, br`) is what fetch implementations add to
 * every request on their own; compressing for those would cost CPU on every download (and
 * cap throughput well below disk speed) for clients that never asked. The e2b SDK sends
 * exactly `gzip` when its caller opts in.
 */
export function acceptsGzip(header: string | undefined): boolean {
  if (!header) return false;
  const parts = header.split(',').map((p) => p.trim()).filter(Boolean);
  if (parts.length !== 1) return false;
  const [coding = '', ...params] = parts[0]!.toLowerCase().split(';');
  if (coding.trim() !== 'gzip') return false;
  const q = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
  return q === undefined || Number(q.slice(2)) > 0;
}

/** Client went away mid-response: not an error worth reporting. */
function isClientGone(err: unknown, res: ServerResponse): boolean {
  const code = (err as NodeJS.ErrnoException)?.code;
  return res.destroyed || code === 'ERR_STREAM_PREMATURE_CLOSE' || code === 'ECONNRESET' || code === 'EPIPE';
}

/** Sends the file at absolute `path` after checking that `user` may read it. */
export async function sendFile(req: IncomingMessage, res: ServerResponse, path: string, user: UserInfo): Promise<void> {
  const checked = await ensureAccess(path, user, 'r');
  if (checked.isDirectory()) {
    throw new WrennError('is_a_directory', `path ${JSON.stringify(path)} is a directory; download files one at a time`, { path });
  }
  if (!checked.isFile()) {
    throw new WrennError('invalid_argument', `path ${JSON.stringify(path)} is not a regular file`, { path });
  }

  let handle: FileHandle | undefined;
  try {
    handle = await fsp.open(path, 'r');
  } catch (err) {
    throw fromSystemError(err, path);
  }
  // The handle belongs to this function until a read stream takes it over (autoClose).
  let stream: Readable | undefined;
  try {
    // Size from the open file, so the headers match the bytes the stream will read.
    const st = await handle.stat();
    const size = st.size;
    const range = parseRange(req.headers.range, size);
    res.setHeader('accept-ranges', 'bytes');
    if (range === 'unsatisfiable') {
      res.setHeader('content-range', `bytes */${size}`);
      throw new WrennError('range_not_satisfiable', `range ${JSON.stringify(req.headers.range)} is outside ${JSON.stringify(path)} (${size} bytes)`, {
        path,
        size,
      });
    }

    res.setHeader('content-type', 'application/octet-stream');
    res.setHeader('content-disposition', contentDisposition(posix.basename(path)));
    res.setHeader('last-modified', st.mtime.toUTCString());
    const gzip = range === undefined && acceptsGzip(req.headers['accept-encoding']);
    res.setHeader('vary', 'accept-encoding');
    if (range) {
      res.setHeader('content-range', `bytes ${range.start}-${range.end}/${size}`);
      res.setHeader('content-length', range.end - range.start + 1);
      res.statusCode = 206;
    } else if (gzip) {
      // Compressed length is unknown up front: chunked transfer.
      res.setHeader('content-encoding', 'gzip');
    } else {
      res.setHeader('content-length', size);
    }
    if (req.method === 'HEAD' || (range === undefined && size === 0 && !gzip)) {
      res.end();
      return;
    }

    stream = handle.createReadStream({ start: range?.start ?? 0, end: range?.end, highWaterMark: 256 * 1024 });
    const body = stream;
    try {
      if (gzip) await pipeline(body, createGzip({ level: 6 }), res);
      else await pipeline(body, res);
    } catch (err) {
      if (isClientGone(err, res)) return;
      throw fromSystemError(err, path);
    }
  } finally {
    // Without a stream, the handle is still ours to close.
    if (!stream) await handle.close().catch(() => {});
  }
}
