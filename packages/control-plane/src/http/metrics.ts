/**
 * Prometheus metrics at GET /metrics: request latency, capsules by state, agent RPC latency.
 * Not for everyone (they show hosts, load and traffic): with WRENN_METRICS_TOKEN set, only
 * `Authorization: Bearer <token>`; without it, only a loopback client that came through no
 * proxy (a scraper on the same machine).
 */
import { timingSafeEqual, createHash } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { WrennError } from '@wrenn/shared';
import { ConnectError, type Interceptor } from '@connectrpc/connect';
import { codeToString } from '@connectrpc/connect/protocol-connect';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { ControlPlaneContext } from '../context.js';

export interface MetricsHandle {
  readonly registry: Registry;
  readonly agentRpcSeconds: Histogram<'method' | 'code'>;
  stop(): void;
}

export function installMetrics(app: FastifyInstance, ctx: ControlPlaneContext): MetricsHandle {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'wrenn_cp_' });
  const requestSeconds = new Histogram({
    name: 'wrenn_http_request_duration_seconds',
    help: 'HTTP request latency',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [registry],
  });
  const agentRpcSeconds = new Histogram({
    name: 'wrenn_agent_rpc_duration_seconds',
    help: 'Control plane → host agent RPC latency',
    labelNames: ['method', 'code'] as const,
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 60],
    registers: [registry],
  });
  ctx.agents.use(agentRpcTimer(agentRpcSeconds));
  new Counter({ name: 'wrenn_build_info', help: 'Always 1', labelNames: ['db'] as const, registers: [registry] }).inc({ db: ctx.dbKind });
  new Gauge({
    name: 'wrenn_capsules',
    help: 'Capsules by state',
    labelNames: ['status'] as const,
    registers: [registry],
    async collect() {
      this.reset();
      const rows = await ctx.db.selectFrom('capsules').select(['status']).select((eb) => eb.fn.countAll<string>().as('n')).groupBy('status').execute();
      for (const r of rows) this.set({ status: r.status }, Number(r.n));
    },
  });
  new Gauge({
    name: 'wrenn_host_start_queue',
    help: "Capsule starts and restores per host, waiting for a turn (state=waiting) or running (state=active): the agent's admission queue, as of its last heartbeat",
    labelNames: ['host', 'state'] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const [host, q] of ctx.startQueues.current()) {
        this.set({ host, state: 'waiting' }, q.waiting);
        this.set({ host, state: 'active' }, q.active);
      }
    },
  });
  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? 'unmatched';
    requestSeconds.observe({ method: request.method, route, status: String(reply.statusCode) }, reply.elapsedTime / 1000);
  });
  app.get('/metrics', { schema: { hide: true } }, async (request, reply) => {
    checkMetricsAccess(request, ctx.config.metricsToken);
    return reply.type(registry.contentType).send(await registry.metrics());
  });
  return { registry, agentRpcSeconds, stop: () => registry.clear() };
}

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|::1|::ffff:127\.\d+\.\d+\.\d+)$/;

function sameSecret(a: string, b: string): boolean {
  // Hashes first: equal lengths for timingSafeEqual, and no length leak.
  return timingSafeEqual(createHash('sha256').update(a).digest(), createHash('sha256').update(b).digest());
}

export function checkMetricsAccess(request: FastifyRequest, token: string | undefined): void {
  if (token) {
    const authz = request.headers.authorization;
    const given = typeof authz === 'string' && /^Bearer\s+/i.test(authz) ? authz.replace(/^Bearer\s+/i, '').trim() : '';
    if (!given || !sameSecret(given, token)) throw new WrennError('unauthenticated', 'GET /metrics needs Authorization: Bearer <WRENN_METRICS_TOKEN>');
    return;
  }
  const proxied = request.headers['x-forwarded-for'] !== undefined || request.headers.forwarded !== undefined;
  if (proxied || !LOOPBACK.test(request.socket.remoteAddress ?? '')) {
    throw new WrennError('permission_denied', 'GET /metrics answers only local scrapers: set WRENN_METRICS_TOKEN to scrape it from elsewhere (Authorization: Bearer <token>)');
  }
}

/**
 * Times every control plane → agent RPC into `histogram` by method (`Exec`, `ReadFile`, ...)
 * and outcome (`ok` or the Connect code: `unavailable`, `not_found`, ...). Unary and
 * client-streaming calls are timed to their answer; server-streaming calls (file reads,
 * exec streams, terminals, which may last hours) to the moment their stream opens.
 */
export function agentRpcTimer(histogram: Histogram<'method' | 'code'>): Interceptor {
  return (next) => async (req) => {
    const started = performance.now();
    const observe = (code: string) => histogram.observe({ method: req.method.name, code }, (performance.now() - started) / 1000);
    try {
      const res = await next(req);
      observe('ok');
      return res;
    } catch (err) {
      observe(codeToString(ConnectError.from(err).code));
      throw err;
    }
  };
}
