/**
 * E2B sandbox routes: create (`/sandboxes`, `/v2/sandboxes`), list (`/sandboxes`,
 * `/v2/sandboxes`), get, kill, timeout, pause, connect (`/sandboxes/{id}/connect` and
 * `/v2/...`; 201 when it resumed the sandbox, 200 when it was running).
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { WrennError } from '@wrenn/shared';
import type { ControlPlaneContext } from '../../../context.js';
import { actorOf } from './actor.js';
import { connectSandbox, createSandbox, getSandbox, killSandbox, pauseSandbox, setSandboxTimeout, type SandboxState } from '../../../domain/e2b/sandboxes.js';
import { listSandboxes, parseMetadataFilter } from '../../../domain/e2b/list.js';
import { mountsOf } from '../../../domain/e2b/volumes.js';
import { teamOf } from '../../plugins/auth.js';
import { updateSandboxNetwork } from '../../../domain/e2b/network-update.js';
import { ConnectBody, DEFAULT_TIMEOUT_SEC, ListQuery, NetworkUpdateBody, NewSandboxBody, PauseBody, SandboxParams, TAGS, TimeoutBody } from './schemas.js';
import type { Static } from 'typebox';
import { detailView, listedView, sandboxView } from './views.js';

function unsupported(what: string, why: string): WrennError {
  return new WrennError('invalid_argument', `${what} is not supported by this Wrenn server: ${why}`);
}

/** Refuses what the body asks for and Wrenn cannot do, instead of silently ignoring it. */
function assertSupported(b: Static<typeof NewSandboxBody>): void {
  const n = b.network;
  if (n) {
    assertEgressSupported(n);
    if (n.allowPublicTraffic === false || n.maskRequestHost !== undefined || n.httpsPorts?.length) {
      throw unsupported('network allowPublicTraffic/maskRequestHost/httpsPorts', 'sandbox ports are reached through the control plane proxy as they are');
    }
  }
  if (b.mcp) throw unsupported('mcp', 'there is no MCP gateway template');
  if (b.iam?.tokens && Object.keys(b.iam.tokens).length > 0) throw unsupported('iam tokens', 'there is no identity token service');
  if (b.autoResume?.enabled && !b.autoPause) throw new WrennError('invalid_argument', 'autoResume needs autoPause: true (only a paused sandbox can be resumed by traffic)');
}

/** What an egress body may hold beyond allow/deny lists: Wrenn has no HTTP(S) egress proxy. */
function assertEgressSupported(n: { rules?: Record<string, unknown> | undefined; egressProxy?: unknown }): void {
  if (n.rules && Object.keys(n.rules).length > 0) throw unsupported('network rules', 'request transforms need an HTTP(S) egress proxy, and capsule egress goes out directly through the host');
  if (n.egressProxy) throw unsupported('network egressProxy', 'capsule egress goes out directly through the host');
}

export async function sandboxRoutes(app: FastifyInstance, ctx: ControlPlaneContext): Promise<void> {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();

  const create = async (request: FastifyRequest, b: Static<typeof NewSandboxBody>) => {
    assertSupported(b);
    const record = await createSandbox(ctx, actorOf(request), {
      templateId: b.templateID,
      timeoutSec: b.timeout ?? DEFAULT_TIMEOUT_SEC,
      onTimeout: b.autoPause ? 'pause' : 'kill',
      autoResume: b.autoResume?.enabled ?? false,
      metadata: b.metadata ?? {},
      envVars: b.envVars ?? {},
      secure: b.secure ?? false,
      allowInternetAccess: b.allow_internet_access ?? true,
      allowOut: b.network?.allowOut ?? [],
      denyOut: b.network?.denyOut ?? [],
      ...(b.volumeMounts?.length ? { volumeMounts: b.volumeMounts } : {}),
    });
    return { ...sandboxView(ctx, record), ...(b.volumeMounts?.length ? { volumeMounts: b.volumeMounts } : {}) };
  };
  for (const path of ['/sandboxes', '/v2/sandboxes']) {
    r.post(path, { schema: { tags: TAGS, summary: 'Create a sandbox (E2B)', body: NewSandboxBody } }, async (request, reply) => reply.code(201).send(await create(request, request.body)));
  }

  const list = async (request: FastifyRequest, q: Static<typeof ListQuery>, reply: FastifyReply, defaultStates: SandboxState[]) => {
    const page = await listSandboxes(ctx, teamOf(request), {
      states: q.state ? (q.state.split(',') as SandboxState[]) : defaultStates,
      metadata: parseMetadataFilter(q.metadata),
      ...(q.template ? { templateId: q.template } : {}),
      ...(q.startedAfter ? { startedAfter: new Date(q.startedAfter) } : {}),
      order: q.order ?? 'desc',
      limit: q.limit ?? 100,
      ...(q.nextToken ? { nextToken: q.nextToken } : {}),
    });
    if (page.nextToken) reply.header('x-next-token', page.nextToken);
    const mounts = await mountsOf(ctx, page.items.map((s) => s.capsule.id));
    return page.items.map((s) => ({ ...listedView(ctx, s), volumeMounts: mounts.get(s.capsule.id) ?? [] }));
  };
  r.get('/v2/sandboxes', { schema: { tags: TAGS, summary: 'List sandboxes, paged (E2B)', querystring: ListQuery } }, (request, reply) => list(request, request.query, reply, ['running', 'paused']));
  r.get('/sandboxes', { schema: { tags: TAGS, summary: 'List running sandboxes (E2B v1)', querystring: ListQuery } }, (request, reply) => list(request, request.query, reply, ['running']));

  r.get('/sandboxes/:sandboxID', { schema: { tags: TAGS, summary: 'One sandbox (E2B)', params: SandboxParams } }, async (request) => {
    const id = request.params.sandboxID;
    const view = detailView(ctx, await getSandbox(ctx, teamOf(request), id));
    return { ...view, volumeMounts: (await mountsOf(ctx, [id])).get(id) ?? [] };
  });

  r.delete('/sandboxes/:sandboxID', { schema: { tags: TAGS, summary: 'Kill a sandbox (E2B)', params: SandboxParams } }, async (request, reply) => {
    await killSandbox(ctx, teamOf(request), request.params.sandboxID);
    return reply.code(204).send();
  });

  r.post('/sandboxes/:sandboxID/timeout', { schema: { tags: TAGS, summary: "Set a sandbox's end of life, from now (E2B)", params: SandboxParams, body: TimeoutBody } }, async (request, reply) => {
    await setSandboxTimeout(ctx, teamOf(request), request.params.sandboxID, request.body.timeout);
    return reply.code(204).send();
  });

  r.post(
    '/sandboxes/:sandboxID/pause',
    { schema: { tags: TAGS, summary: 'Pause a sandbox, memory included (E2B); 409 when already paused', params: SandboxParams, body: PauseBody } },
    async (request, reply) => {
      await pauseSandbox(ctx, teamOf(request), request.params.sandboxID);
      return reply.code(204).send();
    },
  );

  for (const path of ['/sandboxes/:sandboxID/connect', '/v2/sandboxes/:sandboxID/connect']) {
    r.post(
      path,
      { schema: { tags: TAGS, summary: 'Connect to a sandbox, resuming it when paused (E2B): 201 resumed, 200 running', params: SandboxParams, body: ConnectBody } },
      async (request, reply) => {
        const res = await connectSandbox(ctx, teamOf(request), request.params.sandboxID, request.body.timeout);
        return reply.code(res.resumed ? 201 : 200).send(sandboxView(ctx, res));
      },
    );
  }

  r.put(
    '/sandboxes/:sandboxID/network',
    {
      schema: {
        tags: TAGS,
        summary: "Replace a sandbox's egress rules (E2B): at once when running, from its resume when paused; an omitted field is cleared",
        params: SandboxParams,
        body: NetworkUpdateBody,
      },
    },
    async (request, reply) => {
      const b = request.body;
      assertEgressSupported(b);
      await updateSandboxNetwork(ctx, teamOf(request), request.params.sandboxID, {
        allowInternetAccess: b.allow_internet_access ?? true,
        allowOut: b.allowOut ?? [],
        denyOut: b.denyOut ?? [],
      });
      return reply.code(204).send();
    },
  );

  // E2B v1 resume (older SDKs): like connect of a paused sandbox.
  r.post('/sandboxes/:sandboxID/resume', { schema: { tags: TAGS, summary: 'Resume a paused sandbox (E2B v1)', params: SandboxParams, body: ConnectBody } }, async (request, reply) => {
    const { state } = await getSandbox(ctx, teamOf(request), request.params.sandboxID);
    if (state === 'running') throw new WrennError('conflict', `sandbox ${request.params.sandboxID} is already running`);
    const res = await connectSandbox(ctx, teamOf(request), request.params.sandboxID, request.body.timeout);
    return reply.code(201).send(sandboxView(ctx, res));
  });
}
