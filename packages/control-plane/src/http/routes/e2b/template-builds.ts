/**
 * The routes the e2b SDK's `Template.build` calls (domain/e2b/template-builds.ts): request
 * a build, ask whether the files of a COPY step are present (and where to upload them),
 * start the build with its steps, poll its status and logs (a template is deleted through
 * the native /v1/templates or, for one with a start command, E2B's DELETE /templates/{id}).
 * The upload itself is a PUT to the signed URL handed out, without the API key (the SDK
 * sends none there): `templateUploadRoutes`, registered outside the authenticated scope.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import type { ControlPlaneContext } from '../../../context.js';
import { fileUploadLink, requestTemplateBuild, startTemplateBuild, storeUploadedFiles, templateBuildStatus } from '../../../domain/e2b/template-builds.js';
import { teamOf } from '../../plugins/auth.js';
import { Strict, TAGS } from './schemas.js';

const Text = (max: number) => Type.String({ maxLength: max, pattern: '^[^\\u0000]*$' });
const Name = Type.String({ minLength: 1, maxLength: 200, pattern: '^[^\\u0000]+$' });

const RequestBody = Type.Object(
  {
    name: Type.Optional(Name),
    alias: Type.Optional(Name),
    tags: Type.Optional(Type.Array(Name, { maxItems: 20 })),
    teamID: Type.Optional(Text(200)),
    cpuCount: Type.Optional(Type.Integer({ minimum: 1, maximum: 64 })),
    memoryMB: Type.Optional(Type.Integer({ minimum: 128, maximum: 262144 })),
    minFreeDiskMb: Type.Optional(Type.Integer({ minimum: 0 })),
  },
  Strict,
);

const Step = Type.Object(
  {
    type: Type.String({ minLength: 1, maxLength: 32 }),
    args: Type.Optional(Type.Array(Text(65536), { maxItems: 512 })),
    filesHash: Type.Optional(Type.String({ pattern: '^[0-9a-f]{64}$' })),
    force: Type.Optional(Type.Boolean()),
    forceUpload: Type.Optional(Type.Union([Type.Boolean(), Type.Null()])),
    resolveSymlinks: Type.Optional(Type.Union([Type.Boolean(), Type.Null()])),
    gzip: Type.Optional(Type.Union([Type.Boolean(), Type.Null()])),
  },
  Strict,
);

const StartBody = Type.Object(
  {
    fromImage: Type.Optional(Text(512)),
    fromTemplate: Type.Optional(Text(200)),
    fromImageRegistry: Type.Optional(Type.Unknown()),
    force: Type.Optional(Type.Boolean()),
    steps: Type.Optional(Type.Array(Step, { maxItems: 1000 })),
    startCmd: Type.Optional(Text(65536)),
    readyCmd: Type.Optional(Text(4096)),
  },
  Strict,
);

const BuildParams = Type.Object({ templateID: Name, buildID: Type.String({ minLength: 1, maxLength: 64 }) }, Strict);

/** Where the SDK reached this server: the upload URL is on the same origin. */
function originOf(request: FastifyRequest): string {
  return `${request.protocol}://${request.headers.host ?? request.hostname}`;
}

export async function templateBuildRoutes(app: FastifyInstance, ctx: ControlPlaneContext): Promise<void> {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();

  r.post('/v3/templates', { schema: { tags: TAGS, summary: 'Request a template build (E2B)', body: RequestBody } }, async (request, reply) => {
    const out = await requestTemplateBuild(ctx, teamOf(request), request.body);
    return reply.code(202).send(out);
  });

  r.get('/templates/:templateID/files/:hash', { schema: { tags: TAGS, summary: 'Whether files are uploaded, and where to upload them (E2B)', params: Type.Object({ templateID: Name, hash: Type.String({ maxLength: 128 }) }, Strict) } }, async (request, reply) => {
    const out = await fileUploadLink(ctx, teamOf(request), request.params.hash, originOf(request));
    return reply.code(201).send(out);
  });

  r.post('/v2/templates/:templateID/builds/:buildID', { schema: { tags: TAGS, summary: 'Start a template build with its steps (E2B)', params: BuildParams, body: StartBody } }, async (request, reply) => {
    const p = request.auth;
    const createdBy = p?.kind === 'apiKey' || p?.kind === 'user' ? p.userId : null;
    await startTemplateBuild(ctx, teamOf(request), createdBy, request.params.templateID, request.params.buildID, request.body);
    return reply.code(202).send();
  });

  r.get(
    '/templates/:templateID/builds/:buildID/status',
    {
      schema: {
        tags: TAGS,
        summary: "A template build's status and logs (E2B)",
        params: BuildParams,
        querystring: Type.Object({ logsOffset: Type.Optional(Type.Integer({ minimum: 0 })), limit: Type.Optional(Type.Integer({ minimum: 0 })), level: Type.Optional(Type.String({ maxLength: 16 })) }, Strict),
      },
    },
    async (request) => templateBuildStatus(ctx, teamOf(request), request.params.templateID, request.params.buildID, request.query.logsOffset ?? 0),
  );

}

export async function templateUploadRoutes(app: FastifyInstance, ctx: ControlPlaneContext): Promise<void> {
  // The body is the archive as sent, whatever (or no) content type it is labelled with.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: ctx.config.buildContextMaxBytes }, (_req, body, done) => done(null, body));
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  r.put(
    '/template-files/:teamId/:hash',
    {
      bodyLimit: ctx.config.buildContextMaxBytes,
      schema: {
        tags: TAGS,
        summary: 'Upload the files of a template COPY step (E2B; the signed URL from GET /templates/{id}/files/{hash})',
        params: Type.Object({ teamId: Type.String({ minLength: 1, maxLength: 64 }), hash: Type.String({ maxLength: 128 }) }, Strict),
        querystring: Type.Object({ exp: Type.Integer({ minimum: 0 }), sig: Type.String({ minLength: 1, maxLength: 128 }) }, Strict),
      },
    },
    async (request, reply) => {
      const body = request.body;
      const data = Buffer.isBuffer(body) ? body : Buffer.alloc(0);
      await storeUploadedFiles(ctx, { teamId: request.params.teamId, hash: request.params.hash, exp: request.query.exp, sig: request.query.sig }, data);
      return reply.code(200).send();
    },
  );
}
