/**
 * The one error handler of the HTTP API: WrennError → its status and
 * `{"error":{"code","message"}}` (and `Retry-After` when its details carry `retryAfterSec`);
 * schema validation → 400 invalid_argument; agent (Connect) errors → the matching Wrenn
 * code; anything else → 500, logged with the request id.
 */
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Code, ConnectError } from '@connectrpc/connect';
import { ERROR_CODES, WrennError, type ErrorCode } from '@wrenn/shared';

const FROM_CONNECT: Partial<Record<Code, ErrorCode>> = {
  [Code.NotFound]: 'not_found',
  [Code.InvalidArgument]: 'invalid_argument',
  [Code.AlreadyExists]: 'conflict',
  [Code.PermissionDenied]: 'permission_denied',
  [Code.FailedPrecondition]: 'capsule_busy',
  [Code.ResourceExhausted]: 'host_at_capacity',
  [Code.DeadlineExceeded]: 'deadline_exceeded',
  [Code.Unavailable]: 'unavailable',
  [Code.Canceled]: 'canceled',
  [Code.Unauthenticated]: 'unavailable',
  [Code.Unimplemented]: 'not_implemented',
};

/** Maps any thrown value to a WrennError (Connect errors keep their Wrenn code when the agent sent one). */
export function asWrennError(err: unknown): WrennError {
  if (err instanceof WrennError) return err;
  if (err instanceof ConnectError) {
    const sent = err.metadata.get('x-wrenn-error-code');
    const code = sent && sent in ERROR_CODES ? (sent as ErrorCode) : (FROM_CONNECT[err.code] ?? 'internal');
    // The agent refusing our token is our configuration problem, not the caller's.
    const message = err.code === Code.Unauthenticated ? 'the host agent refused the control plane (host token mismatch)' : err.rawMessage;
    return new WrennError(code, message, undefined, { cause: err });
  }
  const fe = err as FastifyError;
  if (fe?.validation) {
    const where = fe.validationContext ?? 'request';
    return new WrennError('invalid_argument', `invalid ${where}: ${fe.message.replace(/^(body|querystring|params|headers)\/?/, '')}`);
  }
  if (fe?.statusCode && fe.statusCode < 500) {
    const code: ErrorCode = fe.statusCode === 413 ? 'payload_too_large' : fe.statusCode === 404 ? 'not_found' : fe.statusCode === 401 ? 'unauthenticated' : 'invalid_argument';
    return new WrennError(code, fe.message);
  }
  return new WrennError('internal', 'internal error', undefined, { cause: err });
}

export function sendError(reply: FastifyReply, err: WrennError): FastifyReply {
  // A refusal that ends at a known time (too_many_attempts) says when, in the standard header too.
  const retryAfterSec = err.details?.retryAfterSec;
  if (typeof retryAfterSec === 'number' && Number.isFinite(retryAfterSec) && retryAfterSec > 0) reply.header('retry-after', String(Math.ceil(retryAfterSec)));
  return reply.code(err.httpStatus).type('application/json').send({ error: { code: err.code, message: err.message, ...(err.details ? { details: err.details } : {}) } });
}

export function installErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((err: unknown, request: FastifyRequest, reply: FastifyReply) => {
    const e = asWrennError(err);
    if (e.httpStatus >= 500) request.log.error({ err, code: e.code }, 'request failed');
    else request.log.info({ code: e.code, msg: e.message }, 'request refused');
    return sendError(reply, e);
  });
  app.setNotFoundHandler((request, reply) =>
    sendError(reply, new WrennError('not_found', `no route ${request.method} ${request.url.split('?')[0]}`)),
  );
}
