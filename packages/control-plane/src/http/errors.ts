/**
 * The one error handler of the HTTP API. Every answer that is not a success has the body
 * `{"error":{"code","reason","message"}}` (shared `wireError`): `code` in Wrenn's
 * published vocabulary, `reason` the precise registry code, with the code's status (and
 * `Retry-After` when the details carry `retryAfterSec`). That holds for our WrennErrors,
 * schema validation (400), Fastify's own refusals (bad JSON, wrong content-type, a body
 * over the limit, an unknown route, a malformed URL) and requests node's HTTP parser
 * refuses before Fastify sees them (bad or oversized headers). Anything else is a 500,
 * logged with the request id.
 */
import type { Socket } from 'node:net';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { WrennError, codeOfHttpStatus, wireError } from '@wrenn/shared';
import { asWrennError } from '@wrenn/shared/connect';
import { writeSocketError } from '@wrenn/shared/proxy';

/** Any error a route, hook or Fastify itself threw, as the WrennError to answer with. */
export function httpErrorOf(err: unknown): WrennError {
  const fe = err as FastifyError;
  if (!(err instanceof WrennError) && fe?.validation) {
    const where = fe.validationContext ?? 'request';
    return new WrennError('invalid_argument', `invalid ${where}: ${fe.message.replace(/^(body|querystring|params|headers)\/?/, '')}`);
  }
  if (!(err instanceof WrennError) && typeof fe?.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500) {
    return new WrennError(codeOfHttpStatus(fe.statusCode), fe.message, undefined, { cause: err });
  }
  return databaseUnavailable(err) ?? asWrennError(err);
}

/** SQLSTATE classes of a database that is not there (08: connection exception; 57P01-03: shut down, starting). */
const DB_AWAY_SQLSTATE = /^(08\d{3}|57P0[1-3])$/;
const DB_AWAY_ERRNO = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH']);
/** node-postgres' own words for a connection that died or was never made. */
const DB_AWAY_MESSAGE = /^(Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error)/;

/**
 * The database is unreachable (stopped, restarting, cut off): 503 with the reason, never a
 * 500. Requests succeed again as soon as it is back: the pool reconnects by itself.
 */
export function databaseUnavailable(err: unknown): WrennError | undefined {
  if (err instanceof WrennError || !(err instanceof Error)) return undefined;
  const code = (err as { code?: unknown }).code;
  const away = (typeof code === 'string' && (DB_AWAY_SQLSTATE.test(code) || DB_AWAY_ERRNO.has(code))) || DB_AWAY_MESSAGE.test(err.message);
  if (!away) return undefined;
  return new WrennError('unavailable', 'the database is unreachable; retry shortly', { retryAfterSec: 5 }, { cause: err });
}

export function sendError(reply: FastifyReply, err: WrennError): FastifyReply {
  // A refusal that ends at a known time (too_many_attempts) says when, in the standard header too.
  const retryAfterSec = err.details?.retryAfterSec;
  if (typeof retryAfterSec === 'number' && Number.isFinite(retryAfterSec) && retryAfterSec > 0) reply.header('retry-after', String(Math.ceil(retryAfterSec)));
  return reply.code(err.httpStatus).type('application/json').send({ error: wireError(err) });
}

/**
 * Fastify's `frameworkErrors` option: errors raised before routing (a URL that does not
 * decode, a failed constraint), which Fastify would otherwise answer in its own shape.
 */
export function frameworkErrors(err: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
  const e = err.code === 'FST_ERR_BAD_URL' ? new WrennError('invalid_argument', 'invalid path: it does not decode (bad percent-escapes)') : httpErrorOf(err);
  request.log.info({ code: e.code, msg: e.message }, 'request refused');
  void sendError(reply, e);
}

/**
 * The server's `clientErrorHandler`: a request node's parser refused (malformed or too
 * large headers), answered in our shape on the raw socket before it closes.
 */
export function clientErrorHandler(err: Error & { code?: string }, socket: Socket): void {
  if (err.code === 'ECONNRESET') {
    socket.destroy();
    return;
  }
  const e =
    err.code === 'HPE_HEADER_OVERFLOW'
      ? new WrennError('headers_too_large', 'the request headers are too large')
      : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? new WrennError('request_timeout', 'the request did not arrive in time')
        : new WrennError('invalid_argument', `malformed HTTP request (${err.code ?? 'parse error'})`);
  writeSocketError(socket, e);
}

export function installErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((err: unknown, request: FastifyRequest, reply: FastifyReply) => {
    const e = httpErrorOf(err);
    if (e.httpStatus >= 500) request.log.error({ err, code: e.code }, 'request failed');
    else request.log.info({ code: e.code, msg: e.message }, 'request refused');
    return sendError(reply, e);
  });
  app.setNotFoundHandler((request, reply) =>
    sendError(reply, new WrennError('not_found', `no route ${request.method} ${request.url.split('?')[0]}`)),
  );
}
