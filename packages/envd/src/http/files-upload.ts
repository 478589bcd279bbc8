/**
 * POST /files bodies: multipart/form-data with one or more `file` parts (busboy), or a
 * raw body (application/octet-stream), optionally gzip-coded. Every file is staged to
 * a temp file first; only when the whole request arrived are they renamed into place,
 * so a failed or aborted request leaves no file and no temp file behind.
 */
import type { IncomingMessage } from 'node:http';
import { pipeline, type Readable } from 'node:stream';
import { pipeline as pipelineAsync } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import busboy from 'busboy';
import { WrennError } from '@wrenn/shared';
import { resolveUserPath } from '../core/paths.js';
import type { UserInfo } from '../core/users.js';
import { stageFile, uploadError, type StageOptions, type StagedFile } from './files-staging.js';

/** Most `file` parts accepted in one request. */
const MAX_FILES = 1000;

/** The request body with its content coding removed (gzip or none). */
export function decodedBody(req: IncomingMessage): Readable {
  const coding = (req.headers['content-encoding'] ?? '').trim().toLowerCase();
  if (coding === '' || coding === 'identity') return req;
  if (coding === 'gzip' || coding === 'x-gzip') {
    // Errors of either stream reach the gunzip end, which is what the copy watches.
    return pipeline(req, createGunzip(), () => {});
  }
  throw new WrennError('invalid_argument', `Content-Encoding ${JSON.stringify(coding)} is not supported; send gzip or no encoding`);
}

export function isMultipart(req: IncomingMessage): boolean {
  return /^multipart\/form-data\b/i.test(req.headers['content-type'] ?? '');
}

/** Removes every staged temp file; used when any part of a request failed. */
async function discardAll(staged: StagedFile[]): Promise<void> {
  await Promise.all(staged.map((s) => s.discard().catch(() => {})));
}

/** Renames every staged file into place; on a failure the ones not yet renamed are removed. */
export async function commitAll(staged: StagedFile[]): Promise<void> {
  for (let i = 0; i < staged.length; i++) {
    try {
      await staged[i]!.commit();
    } catch (err) {
      await discardAll(staged.slice(i + 1));
      throw err;
    }
  }
}

/** A raw body for `path` (required). */
export async function receiveRaw(req: IncomingMessage, path: string | null, user: UserInfo, opts: StageOptions = {}): Promise<StagedFile[]> {
  if (!path) {
    throw new WrennError('invalid_argument', 'an application/octet-stream upload needs the path query parameter naming the file to write');
  }
  const destination = resolveUserPath(path, user);
  return [await stageFile(decodedBody(req), destination, user, opts)];
}

/**
 * A multipart body. Each `file` part goes to `path` when given (then only one part is
 * allowed), else to the part's filename (absolute, `~/x`, or relative to the user's home).
 */
export async function receiveMultipart(
  req: IncomingMessage,
  path: string | null,
  user: UserInfo,
  opts: StageOptions = {},
): Promise<StagedFile[]> {
  let parser: busboy.Busboy;
  try {
    parser = busboy({
      headers: req.headers,
      preservePath: true, // filenames are destinations, not just base names
      limits: { files: MAX_FILES, fields: 1000, fieldSize: 64 * 1024, headerPairs: 2000 },
    });
  } catch (err) {
    throw new WrennError('invalid_argument', `cannot parse the multipart body: ${(err as Error).message}`);
  }

  const staging: Array<Promise<StagedFile>> = [];
  // The first thing that went wrong; later parts are drained, not written.
  let failure: unknown;
  let files = 0;
  parser.on('file', (field, stream, info) => {
    if (field !== 'file' || failure !== undefined) {
      stream.resume();
      return;
    }
    files++;
    if (path && files > 1) {
      failure = new WrennError(
        'invalid_argument',
        'the path query parameter names one file, but the form has several "file" parts; omit path and give each part a filename',
      );
      stream.resume();
      return;
    }
    const target = path ?? info.filename;
    if (!target) {
      failure = new WrennError('invalid_argument', 'a "file" part has no filename and no path query parameter was given');
      stream.resume();
      return;
    }
    let destination: string;
    try {
      destination = resolveUserPath(target, user);
    } catch (err) {
      failure = err;
      stream.resume();
      return;
    }
    const staged = stageFile(stream, destination, user, opts);
    staged.catch((err: unknown) => {
      failure ??= err;
      stream.resume();
    });
    staging.push(staged);
  });
  parser.on('filesLimit', () => {
    failure ??= new WrennError('payload_too_large', `a request may upload at most ${MAX_FILES} files`);
  });

  let parseError: unknown;
  try {
    await pipelineAsync(decodedBody(req), parser);
  } catch (err) {
    parseError = err;
  }
  const settled = await Promise.allSettled(staging);
  const staged = settled.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
  const error =
    failure ??
    (parseError === undefined ? undefined : uploadError(parseError, path ?? '(multipart body)')) ??
    (files === 0 ? new WrennError('invalid_argument', 'the multipart body has no part named "file"') : undefined);
  if (error !== undefined) {
    await discardAll(staged);
    throw error;
  }
  return staged;
}
