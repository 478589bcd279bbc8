/**
 * WebSocket routes of a capsule (docs/decisions.md#a3): terminal (`/pty`), streamed
 * exec (`/exec/stream`) and a background process's output (`/processes/{selector}/stream`).
 * They are the only routes that accept upgrades (see ws/upgrade-guard.ts). Authentication
 * is by header on the upgrade or by a first `{type:"auth"}` message (ws/ws-auth.ts), and
 * re-checked while the socket is open (ws/credential-watch.ts); every failure is sent as
 * `{type:"error",...}` and closes the socket with 4000 + HTTP status.
 */
import type { FastifyInstance, FastifyRequest, FastifySchema } from 'fastify';
import type { WebSocket } from 'ws';
import Type from 'typebox';
import type { Logger, WrennError } from '@wrenn/shared';
import type { ControlPlaneContext } from '../../context.js';
import { httpErrorOf } from '../errors.js';
import { WsChannel } from '../../ws/ws-channel.js';
import { openCapsule, wsHeaderAuth, type OpenedCapsule } from '../../ws/ws-auth.js';
import { watchCredentials } from '../../ws/credential-watch.js';
import { servePty } from '../../ws/pty-connection.js';
import { serveExecStream } from '../../ws/exec-stream.js';
import { serveProcessStream } from '../../ws/process-stream.js';

const CapsuleParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 128 }) });
const ProcessParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 128 }), selector: Type.String({ minLength: 1, maxLength: 256 }) });

/**
 * @fastify/websocket hides WebSocket routes from the OpenAPI document (schema.hide); this
 * per-route swagger transform puts them back, documented as the GET + Upgrade they are.
 */
function wsDoc(summary: string, description: string) {
  return {
    swaggerTransform: ({ schema, url }: { schema: FastifySchema; url: string }) => ({
      url,
      schema: {
        ...schema,
        hide: false,
        tags: ['capsules'],
        summary,
        description: `${description}\n\nWebSocket (GET with Upgrade). Authenticate with X-API-Key / Authorization on the upgrade, or send {"type":"auth","api_key"|"token":...} first. Errors arrive as {"type":"error","code","message"} and close the socket with 4000 + the HTTP status.`,
        response: { 101: { description: 'Switching Protocols: the WebSocket is open', type: 'null' } },
      } as FastifySchema,
    }),
  };
}

type Serve = (channel: WsChannel, opened: OpenedCapsule, log: Logger) => Promise<void>;

/**
 * The common life of a capsule WebSocket: channel, auth + capsule check (auto-resume),
 * serve while the credentials stay valid, one summary log line. With `holdWhileOpen` the
 * capsule counts as active for as long as the socket is served (never auto-paused under a
 * streamed command); a terminal counts its input and output instead (ws/pty-registry.ts).
 */
function capsuleSocket(ctx: ControlPlaneContext, operation: string, serve: (request: FastifyRequest) => Serve, opts: { holdWhileOpen?: boolean } = {}) {
  return async (socket: WebSocket, request: FastifyRequest): Promise<void> => {
    // Created before any await: messages arriving meanwhile (the auth message) are queued.
    const channel = new WsChannel(socket, { pingIntervalMs: ctx.config.wsPingIntervalSec * 1000 });
    const capsuleId = (request.params as { id: string }).id;
    const log = request.log.child({ capsuleId }) as unknown as Logger;
    const startedAt = Date.now();
    let outcome = 'ok';
    // Set when the credential watch closed the socket: serve() then ends because the socket
    // closed, and whatever it throws on the way out is not the socket's outcome.
    let revoked: WrennError | undefined;
    let stopWatch: (() => void) | undefined;
    try {
      const opened = await openCapsule(ctx, channel, request, capsuleId, operation);
      stopWatch = watchCredentials(ctx, channel, opened, log, (err) => {
        revoked = err;
      });
      const release = opts.holdWhileOpen ? ctx.activity.hold(opened.capsule.id) : undefined;
      try {
        await serve(request)(channel, opened, log);
      } finally {
        release?.();
      }
    } catch (err) {
      const e = httpErrorOf(err);
      if (revoked) {
        log.debug({ code: e.code, msg: e.message }, `${operation} ended after the credentials were revoked`);
      } else {
        outcome = e.code;
        if (e.httpStatus >= 500) log.error({ err, code: e.code }, `${operation} failed`);
        else log.info({ code: e.code, msg: e.message }, `${operation} refused`);
        await channel.fail(e);
      }
    } finally {
      stopWatch?.();
      if (revoked) outcome = revoked.code;
      log.info({ operation, outcome, durationMs: Date.now() - startedAt }, 'websocket closed');
    }
  };
}

export async function websocketsRoutes(app: FastifyInstance, ctx: ControlPlaneContext): Promise<void> {
  const sessions = ctx.ptys;
  await app.register(async (s) => {
    s.addHook('onRequest', wsHeaderAuth(ctx));
    s.get(
      '/capsules/:id/pty',
      {
        websocket: true,
        schema: { params: CapsuleParams },
        config: wsDoc('Terminal (PTY) WebSocket', 'First message {type:"start",cols,rows,cmd?,args?,envs?,cwd?,user?} for a new session, or {type:"connect",tag} to re-attach to one. Then {type:"input",data:base64}, {type:"resize",cols,rows}, {type:"kill"}. Server messages: {type:"started",tag,pid}, {type:"output",data:base64}, {type:"exit",exit_code}. A session with no client attached ends after 120 s.'),
      },
      capsuleSocket(ctx, 'open a terminal', () => (channel, opened, log) =>
        servePty(channel, opened, { sessions, startTimeoutMs: ctx.config.agentTimeoutMs }, log),
      ),
    );
    s.get(
      '/capsules/:id/exec/stream',
      {
        websocket: true,
        schema: { params: CapsuleParams },
        config: wsDoc('Streamed exec WebSocket', 'First message {type:"start",cmd,args?,envs?,cwd?}; then {type:"stop"} to end it. Server messages: {type:"start",pid}, {type:"stdout"|"stderr",data,encoding:"utf-8"|"base64"}, {type:"exit",exit_code}.'),
      },
      capsuleSocket(ctx, 'stream a command', () => serveExecStream, { holdWhileOpen: true }),
    );
    s.get(
      '/capsules/:id/processes/:selector/stream',
      {
        websocket: true,
        schema: { params: ProcessParams },
        config: wsDoc('Background process output WebSocket', 'Attaches to a running background process by pid or tag and streams {type:"start",pid}, {type:"stdout"|"stderr",data,encoding:"utf-8"|"base64"} until {type:"exit",exit_code}. Takes no messages.'),
      },
      capsuleSocket(
        ctx,
        'stream a process',
        (request) => (channel, opened, log) => serveProcessStream(channel, opened, (request.params as { selector: string }).selector, log),
        { holdWhileOpen: true },
      ),
    );
  });
}
