/**
 * E2B's volume content API (`/volumecontent/{volumeID}/path|dir|file`): stat, metadata,
 * remove, list, make directory, download and upload of a volume's files. Authorised by the
 * volume's own token (`Authorization: Bearer`, as the e2b SDK's Volume sends it), not by
 * an API key; refused (409) while a sandbox has the volume mounted. Errors are
 * `{code: "<status>", message}` as E2B's volume content schema has them.
 */
import { Readable } from 'node:stream';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import type { VolumeEntry, VolumeWriteFileRequest } from '@wrenn/proto/hostagent';
import { httpErrorOf } from '../../errors.js';
import type { ControlPlaneContext } from '../../../context.js';
import { assertContentFree, volumeAgent, volumeByToken, type VolumeRow } from '../../../domain/e2b/volumes.js';
import { Strict } from './schemas.js';
import { VolumeParams } from './volumes.js';

const TAGS = ['e2b'];
const Path = Type.String({ minLength: 1, maxLength: 4096, pattern: '^[^\\u0000]*$' });
const Id = Type.Integer({ minimum: 0, maximum: 4294967295 });
const Mode = Type.Integer({ minimum: 0, maximum: 0o7777 });
const PathQuery = Type.Object({ path: Path }, Strict);
const Ownership = { uid: Type.Optional(Id), gid: Type.Optional(Id), mode: Type.Optional(Mode) };

function statView(e: VolumeEntry) {
  return {
    name: e.name,
    type: e.type,
    path: e.path,
    size: Number(e.size),
    mode: e.mode,
    uid: e.uid,
    gid: e.gid,
    atime: new Date(Number(e.atimeMs)).toISOString(),
    mtime: new Date(Number(e.mtimeMs)).toISOString(),
    ctime: new Date(Number(e.ctimeMs)).toISOString(),
    ...(e.target !== undefined ? { target: e.target } : {}),
  };
}

function bearer(request: FastifyRequest): string | undefined {
  const h = request.headers.authorization;
  return h?.startsWith('Bearer ') ? h.slice(7).trim() : undefined;
}

function clientGone(reply: FastifyReply): AbortSignal {
  const abort = new AbortController();
  reply.raw.once('close', () => {
    if (!reply.raw.writableFinished) abort.abort();
  });
  return abort.signal;
}

export async function volumeContentRoutes(app: FastifyInstance, ctx: ControlPlaneContext): Promise<void> {
  await app.register(async (s) => {
    s.addHook('onRoute', (route) => {
      route.schema = { ...(route.schema ?? {}), hide: true };
    });
    s.setErrorHandler((err, request, reply) => {
      const e = httpErrorOf(err);
      if (e.httpStatus >= 500) request.log.error({ err, code: e.code }, 'request failed');
      return reply.code(e.httpStatus).type('application/json').send({ code: String(e.httpStatus), message: e.message, error_code: e.code });
    });
    // Uploads are raw bytes, streamed to the host.
    s.removeContentTypeParser(['text/plain']);
    s.addContentTypeParser('application/octet-stream', (_request, payload, done) => done(null, payload));
    const r = s.withTypeProvider<TypeBoxTypeProvider>();
    const opts = { timeoutMs: ctx.config.agentTimeoutMs };

    /** The volume the token opens, free of sandboxes, and its host's agent. */
    const open = async (request: FastifyRequest, id: string) => {
      const volume: VolumeRow = await volumeByToken(ctx, id, bearer(request));
      await assertContentFree(ctx, volume);
      return { volume, agent: await volumeAgent(ctx, volume) };
    };

    r.get('/volumecontent/:volumeID/path', { schema: { tags: TAGS, params: VolumeParams, querystring: PathQuery } }, async (request) => {
      const { agent } = await open(request, request.params.volumeID);
      return statView(await agent.volumeStat({ volumeId: request.params.volumeID, path: request.query.path }, opts));
    });

    r.patch(
      '/volumecontent/:volumeID/path',
      { schema: { tags: TAGS, params: VolumeParams, querystring: PathQuery, body: Type.Object(Ownership, Strict) } },
      async (request) => {
        const { agent } = await open(request, request.params.volumeID);
        return statView(await agent.volumeSetMetadata({ volumeId: request.params.volumeID, path: request.query.path, ...request.body }, opts));
      },
    );

    r.delete('/volumecontent/:volumeID/path', { schema: { tags: TAGS, params: VolumeParams, querystring: PathQuery } }, async (request, reply) => {
      const { agent } = await open(request, request.params.volumeID);
      await agent.volumeRemove({ volumeId: request.params.volumeID, path: request.query.path }, opts);
      return reply.code(204).send();
    });

    r.get(
      '/volumecontent/:volumeID/dir',
      { schema: { tags: TAGS, params: VolumeParams, querystring: Type.Object({ path: Path, depth: Type.Optional(Type.Integer({ minimum: 1, maximum: 32 })) }, Strict) } },
      async (request) => {
        const { agent } = await open(request, request.params.volumeID);
        const res = await agent.volumeList({ volumeId: request.params.volumeID, path: request.query.path, depth: request.query.depth ?? 1 }, opts);
        return res.entries.map(statView);
      },
    );

    r.post(
      '/volumecontent/:volumeID/dir',
      { schema: { tags: TAGS, params: VolumeParams, querystring: Type.Object({ path: Path, ...Ownership, force: Type.Optional(Type.Boolean()) }, Strict) } },
      async (request, reply) => {
        const { agent } = await open(request, request.params.volumeID);
        const { path, force, ...own } = request.query;
        const entry = await agent.volumeMakeDir({ volumeId: request.params.volumeID, path, parents: force ?? false, ...own }, opts);
        return reply.code(201).send(statView(entry));
      },
    );

    r.get('/volumecontent/:volumeID/file', { schema: { tags: TAGS, params: VolumeParams, querystring: PathQuery } }, async (request, reply) => {
      const { agent } = await open(request, request.params.volumeID);
      const signal = clientGone(reply);
      const it = agent.volumeReadFile({ volumeId: request.params.volumeID, path: request.query.path }, { ...opts, signal })[Symbol.asyncIterator]();
      // The first message before the answer starts: a missing file is still a 404.
      const first = await it.next();
      const chunks = (async function* () {
        if (!first.done) yield first.value.chunk;
        for (;;) {
          const next = await it.next();
          if (next.done) return;
          yield next.value.chunk;
        }
      })();
      return reply.type('application/octet-stream').send(Readable.from(chunks, { objectMode: false }));
    });

    r.put(
      '/volumecontent/:volumeID/file',
      { schema: { tags: TAGS, params: VolumeParams, querystring: Type.Object({ path: Path, ...Ownership, force: Type.Optional(Type.Boolean()) }, Strict) } },
      async (request, reply) => {
        const { agent } = await open(request, request.params.volumeID);
        const { path, force, ...own } = request.query;
        const body = (request.body as Readable | undefined) ?? Readable.from([]);
        const volumeId = request.params.volumeID;
        async function* messages(): AsyncIterable<Partial<VolumeWriteFileRequest>> {
          yield { part: { case: 'header', value: { volumeId, path, force: force ?? false, ...own } as never } };
          for await (const chunk of body) yield { part: { case: 'chunk', value: chunk as Uint8Array } };
        }
        const entry = await agent.volumeWriteFile(messages() as never, { ...opts, signal: clientGone(reply) });
        return reply.code(201).send(statView(entry));
      },
    );
  });
}
