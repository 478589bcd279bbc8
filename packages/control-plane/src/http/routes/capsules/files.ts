/**
 * Files of a capsule: multipart upload (`path` field, then `file`), raw streamed upload
 * and download (any size: bytes stream through to the agent, never buffered whole), list,
 * mkdir, remove. A missing path is a 404 naming it.
 */
import { Readable } from 'node:stream';
import type { FastifyInstance, FastifyReply, FastifyRequest, FastifySchema } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import { WrennError } from '@wrenn/shared';
import type { ControlPlaneContext } from '../../../context.js';
import { listDir, makeDir, readFile, removePath, writeFile } from '../../../domain/capsules/files.js';
import { teamOf } from '../../plugins/auth.js';
import { CommonErrors, FileEntrySchema, IdParams, NoContent, Path, PathBody, Strict, TAGS } from './schemas.js';

const PATH_HEADER = 'x-file-path';
const PathQuery = Type.Object({ path: Type.Optional(Path) }, Strict);
const Bytes = Type.String({ format: 'binary', description: 'The file content' });

/**
 * Writes the `file` part of a multipart body to the `path` field (or `presetPath`), streamed
 * through as it arrives; other parts are drained.
 */
async function writeMultipart(ctx: ControlPlaneContext, capsuleId: string, request: FastifyRequest, reply: FastifyReply, presetPath: string | undefined): Promise<void> {
  const teamId = teamOf(request);
  let path = presetPath;
  let written = false;
  for await (const part of request.parts()) {
    if (part.type === 'field') {
      if (part.fieldname === 'path') path = String(part.value);
      continue;
    }
    if (part.fieldname !== 'file' || written) {
      part.file.resume(); // not ours: drain it
      continue;
    }
    if (!path) throw new WrennError('invalid_argument', 'the `path` field must come before the `file` part (or give ?path=)');
    if (path.length > 4096 || path.includes('\0')) throw new WrennError('invalid_argument', 'the `path` field is not a valid path');
    await writeFile(ctx, teamId, capsuleId, path, part.file, clientGone(reply));
    written = true;
  }
  if (!written) throw new WrennError('invalid_argument', 'the multipart body has no `file` part');
}

/** The multipart body as the OpenAPI document shows it (the route reads it as a stream, unvalidated by schema). */
const MultipartUpload = Type.Object({
  path: Type.String({ description: 'Where to write the file in the capsule (before the file part)' }),
  file: Type.String({ format: 'binary', description: 'The content' }),
});

/** Documents the multipart body of an upload route without making Fastify parse or validate it. */
const multipartDoc = {
  swaggerTransform: ({ schema, url }: { schema: FastifySchema; url: string }) => ({ url, schema: { ...schema, consumes: ['multipart/form-data'], body: MultipartUpload } as FastifySchema }),
};

/** An AbortSignal that fires when the client goes away before the response is complete. */
function clientGone(reply: FastifyReply): AbortSignal {
  const abort = new AbortController();
  reply.raw.once('close', () => {
    if (!reply.raw.writableFinished) abort.abort();
  });
  return abort.signal;
}

async function sendFile(ctx: ControlPlaneContext, teamId: string, id: string, path: string, reply: FastifyReply): Promise<FastifyReply> {
  const chunks = await readFile(ctx, teamId, id, path, clientGone(reply));
  const name = path.split('/').filter(Boolean).pop() ?? 'file';
  return reply
    .type('application/octet-stream')
    .header('content-disposition', `attachment; filename*=UTF-8''${encodeURIComponent(name)}`)
    .send(Readable.from(chunks, { objectMode: false, highWaterMark: 1024 * 1024 }));
}

export async function fileRoutes(app: FastifyInstance, ctx: ControlPlaneContext): Promise<void> {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();

  r.post(
    '/capsules/:id/files/write',
    {
      config: multipartDoc,
      schema: {
        tags: TAGS,
        summary: 'Upload a file (multipart: a `path` field, then a `file` part)',
        description: `The file is created or replaced, parent directories included. The path may instead be given as \`?path=\` or an \`${PATH_HEADER}\` header. Streams through: any size.`,
        consumes: ['multipart/form-data'],
        params: IdParams,
        querystring: PathQuery,
        response: { 204: NoContent, ...CommonErrors },
      },
    },
    async (request, reply) => {
      if (!request.isMultipart()) throw new WrennError('invalid_argument', 'send multipart/form-data with a `path` field and a `file` part (or use files/stream/write for a raw body)');
      await writeMultipart(ctx, request.params.id, request, reply, request.query.path ?? headerPath(request.headers[PATH_HEADER]));
      return reply.code(204).send(null);
    },
  );

  for (const url of ['/capsules/:id/files/read', '/capsules/:id/files/stream/read']) {
    r.post(
      url,
      {
        schema: {
          tags: TAGS,
          summary: url.includes('stream') ? 'Download a file as a stream (any size)' : 'Download a file',
          params: IdParams,
          body: PathBody,
          response: { 200: { description: 'The file content', content: { 'application/octet-stream': { schema: Bytes } } }, ...CommonErrors },
        },
      },
      async (request, reply) => sendFile(ctx, teamOf(request), request.params.id, request.body.path, reply),
    );
  }

  r.post(
    '/capsules/:id/files/list',
    {
      schema: {
        tags: TAGS,
        summary: 'List a directory (depth levels deep)',
        params: IdParams,
        body: Type.Object({ path: Path, depth: Type.Integer({ default: 1, minimum: 1, maximum: 32 }) }, Strict),
        response: { 200: Type.Object({ entries: Type.Array(FileEntrySchema) }), ...CommonErrors },
      },
    },
    async (request) => ({ entries: await listDir(ctx, teamOf(request), request.params.id, request.body.path, request.body.depth) }),
  );

  r.post(
    '/capsules/:id/files/mkdir',
    {
      schema: {
        tags: TAGS,
        summary: 'Create a directory (and its parents); 409 when the path exists',
        params: IdParams,
        body: PathBody,
        response: { 200: Type.Object({ entry: FileEntrySchema }), ...CommonErrors },
      },
    },
    async (request) => ({ entry: await makeDir(ctx, teamOf(request), request.params.id, request.body.path) }),
  );

  r.post(
    '/capsules/:id/files/remove',
    {
      schema: { tags: TAGS, summary: 'Remove a file or a directory (recursively)', params: IdParams, body: PathBody, response: { 204: NoContent, ...CommonErrors } },
    },
    async (request, reply) => {
      await removePath(ctx, teamOf(request), request.params.id, request.body.path);
      return reply.code(204).send(null);
    },
  );

  // The streamed upload gets its own scope: there, a multipart body goes to the multipart
  // reader and any other body is handed to the route as a stream.
  await app.register(async (s) => {
    s.removeContentTypeParser(['application/json', 'text/plain']);
    s.addContentTypeParser('*', (_request, payload, done) => done(null, payload));
    s.withTypeProvider<TypeBoxTypeProvider>().post(
      '/capsules/:id/files/stream/write',
      {
        config: multipartDoc,
        schema: {
          tags: TAGS,
          summary: 'Upload a file, streamed (any size)',
          description: `multipart/form-data with a \`path\` field, then a \`file\` part (as Wrenn's contract). Extension: a raw body of any other type, the path in \`?path=\` or the \`${PATH_HEADER}\` header. The file is created or replaced; bytes stream through, never held whole.`,
          consumes: ['multipart/form-data', 'application/octet-stream'],
          params: IdParams,
          querystring: PathQuery,
          response: { 204: NoContent, ...CommonErrors },
        },
      },
      async (request, reply) => {
        const path = request.query.path ?? headerPath(request.headers[PATH_HEADER]);
        if (request.isMultipart()) {
          await writeMultipart(ctx, request.params.id, request, reply, path);
          return reply.code(204).send(null);
        }
        if (!path) throw new WrennError('invalid_argument', `name the file with ?path= or an ${PATH_HEADER} header`);
        const body = request.body as Readable | undefined;
        await writeFile(ctx, teamOf(request), request.params.id, path, body ?? Readable.from([]), clientGone(reply));
        return reply.code(204).send(null);
      },
    );
  });
}

function headerPath(value: string | string[] | undefined): string | undefined {
  const v = Array.isArray(value) ? value[0] : value;
  if (v === undefined || v === '') return undefined;
  let path: string;
  try {
    path = decodeURIComponent(v); // headers are ASCII: non-ASCII paths come percent-encoded
  } catch {
    path = '\0';
  }
  if (path.length > 4096 || path.includes('\0')) throw new WrennError('invalid_argument', `the ${PATH_HEADER} header is not a valid path (percent-encode non-ASCII characters)`);
  return path;
}
