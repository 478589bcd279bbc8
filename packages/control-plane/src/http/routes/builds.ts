/**
 * Template builds and templates, as Wrenn's contract has them for administrators
 * (`/admin/builds` create/list/get/cancel, `/admin/templates` list/delete: platform
 * templates every team can use) and the same for a team's own templates (`/builds`,
 * `/templates`, user JWT or API key). A build is created from JSON, or from
 * multipart/form-data with a `config` field (the same JSON) and an `archive` file (tar,
 * tar.gz or zip: the build context for COPY). `GET .../builds/{id}/events` streams the
 * build (Server-Sent Events, one `build` event per change) until it ends.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Type, { type Static } from 'typebox';
import { Compile } from 'typebox/compile';
import { WrennError } from '@wrenn/shared';
import type { ControlPlaneContext } from '../../context.js';
import { cancelBuild, createBuild, getBuild, getBuildRow, listBuilds, type BuildScope, type CreateBuildInput } from '../../domain/builds/service.js';
import { deleteTemplate, listTemplates } from '../../domain/builds/templates.js';
import { buildView } from '../../domain/builds/views.js';
import { authScope, teamOf } from '../plugins/auth.js';
import { BuildSchema, CreateBuildBody, TemplateListingSchema } from './builds-schemas.js';

const IdParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 64 }) });
const NameParams = Type.Object({ name: Type.String({ minLength: 1, maxLength: 63 }) });
const createBodyCheck = Compile(CreateBuildBody);
const FINAL = new Set(['success', 'failed', 'cancelled']);
const SSE_POLL_MS = 400;

function parseConfig(text: string): Static<typeof CreateBuildBody> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new WrennError('invalid_argument', 'the `config` field is not valid JSON');
  }
  if (!createBodyCheck.Check(value)) {
    const first = createBodyCheck.Errors(value)[0];
    throw new WrennError('invalid_argument', `config${first?.instancePath ?? ''}: ${first?.message ?? 'does not match the build request schema'}`);
  }
  return value;
}

/** JSON body, or multipart `config` + `archive` (capped while reading). */
async function readCreate(request: FastifyRequest, maxBytes: number): Promise<CreateBuildInput> {
  if (!request.isMultipart()) {
    if (!createBodyCheck.Check(request.body)) {
      const first = createBodyCheck.Errors(request.body)[0];
      throw new WrennError('invalid_argument', `body${first?.instancePath ?? ''}: ${first?.message ?? 'does not match the build request schema'}`);
    }
    return { ...request.body };
  }
  let config: Static<typeof CreateBuildBody> | undefined;
  let archive: Buffer | undefined;
  for await (const part of request.parts()) {
    if (part.type === 'field') {
      if (part.fieldname === 'config') config = parseConfig(String(part.value));
      continue;
    }
    if (part.fieldname !== 'archive' || archive) {
      part.file.resume();
      continue;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of part.file) {
      size += (chunk as Buffer).length;
      if (size > maxBytes) {
        part.file.resume();
        throw new WrennError('payload_too_large', `the build context is larger than ${maxBytes} bytes (WRENN_BUILD_CONTEXT_MAX_BYTES)`);
      }
      chunks.push(chunk as Buffer);
    }
    archive = Buffer.concat(chunks, size);
  }
  if (!config) throw new WrennError('invalid_argument', 'the multipart body needs a `config` field holding the build request as JSON');
  return { ...config, ...(archive ? { archive } : {}) };
}

function registerBuildRoutes(s: FastifyInstance, ctx: ControlPlaneContext, prefix: string, scopeOf: (r: FastifyRequest) => BuildScope, tags: string[]): void {
  const r = s.withTypeProvider<TypeBoxTypeProvider>();
  r.post(
    `${prefix}/builds`,
    {
      schema: {
        tags,
        summary: 'Start a template build (JSON, or multipart with `config` and an `archive` build context)',
        consumes: ['application/json', 'multipart/form-data'],
        description: 'The JSON body (or the multipart `config` field) is a CreateBuildRequest: name, base_template, recipe (lines) or dockerfile, healthcheck, vcpus, memory_mb, skip_pre_post. It is validated in the handler, as multipart bodies are read there.',
        response: { 201: BuildSchema },
      },
    },
    async (request, reply) => {
      const input = await readCreate(request, ctx.config.buildContextMaxBytes);
      const userId = request.auth?.kind === 'user' ? request.auth.userId : null;
      const view = await createBuild(ctx, scopeOf(request), { ...input, createdBy: userId });
      return reply.code(201).send(view);
    },
  );

  r.get(
    `${prefix}/builds`,
    { schema: { tags, summary: 'Builds, newest first', querystring: Type.Object({ limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500 })) }, { additionalProperties: false }), response: { 200: Type.Array(BuildSchema) } } },
    async (request) => listBuilds(ctx, scopeOf(request), request.query.limit ?? 100),
  );

  r.get(`${prefix}/builds/:id`, { schema: { tags, summary: 'A build with its steps and logs', params: IdParams, response: { 200: BuildSchema } } }, async (request) =>
    getBuild(ctx, scopeOf(request), request.params.id),
  );

  r.post(
    `${prefix}/builds/:id/cancel`,
    { schema: { tags, summary: 'Cancel a pending or running build (its running step stops at once)', params: IdParams, response: { 204: Type.Null() } } },
    async (request, reply) => {
      await cancelBuild(ctx, scopeOf(request), request.params.id);
      return reply.code(204).send(null);
    },
  );

  r.get(
    `${prefix}/builds/:id/events`,
    { schema: { tags, summary: 'Live progress: Server-Sent Events (`event: build`, the build as JSON) on every change, until the build ends', params: IdParams } },
    async (request, reply) => {
      const scope = scopeOf(request);
      let row = await getBuildRow(ctx, scope, request.params.id);
      reply.hijack();
      const res = reply.raw;
      res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', 'x-accel-buffering': 'no' });
      let closed = false;
      request.raw.on('close', () => (closed = true));
      let last = '';
      let lastWrite = Date.now();
      while (!closed) {
        const stamp = `${new Date(row.updated_at).getTime()}:${row.status}:${row.current_step}`;
        if (stamp !== last) {
          last = stamp;
          res.write(`event: build\ndata: ${JSON.stringify(buildView(row))}\n\n`);
          lastWrite = Date.now();
        } else if (Date.now() - lastWrite > 15_000) {
          res.write(': keep-alive\n\n');
          lastWrite = Date.now();
        }
        if (FINAL.has(row.status)) break;
        await new Promise((resolve) => setTimeout(resolve, SSE_POLL_MS));
        row = await getBuildRow(ctx, scope, request.params.id);
      }
      res.end();
    },
  );

  r.get(`${prefix}/templates`, { schema: { tags, summary: 'Templates: the hosts\' base templates, platform templates and (for a team) its own', response: { 200: Type.Array(TemplateListingSchema) } } }, async (request) =>
    listTemplates(ctx, scopeOf(request)),
  );

  r.delete(
    `${prefix}/templates/:name`,
    { schema: { tags, summary: 'Delete a built or snapshot template (409 while a capsule or a build uses it)', params: NameParams, response: { 204: Type.Null() } } },
    async (request, reply) => {
      await deleteTemplate(ctx, scopeOf(request), request.params.name);
      return reply.code(204).send(null);
    },
  );
}

export async function buildsRoutes(app: FastifyInstance, ctx: ControlPlaneContext): Promise<void> {
  await app.register(async (s) => {
    authScope(s, ctx, { allow: ['user'], admin: true });
    registerBuildRoutes(s, ctx, '/admin', () => ({ admin: true }), ['admin-builds']);
  });
  await app.register(async (s) => {
    authScope(s, ctx, { allow: ['user', 'apiKey'] });
    registerBuildRoutes(s, ctx, '', (request) => ({ admin: false, teamId: teamOf(request) }), ['builds']);
  });
}
