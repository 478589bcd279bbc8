/** Prometheus metrics at GET /metrics: request latency, capsules by state, agent RPC latency. */
import type { FastifyInstance } from 'fastify';
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
  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? 'unmatched';
    requestSeconds.observe({ method: request.method, route, status: String(reply.statusCode) }, reply.elapsedTime / 1000);
  });
  app.get('/metrics', { schema: { hide: true } }, async (_req, reply) => reply.type(registry.contentType).send(await registry.metrics()));
  return { registry, agentRpcSeconds, stop: () => registry.clear() };
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
