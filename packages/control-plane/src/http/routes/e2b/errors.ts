/**
 * E2B's error body: `{"code": <HTTP status>, "message": "..."}`. The e2b SDK reads `code`
 * (not the HTTP status) to tell "not found" (404) and "already paused" (409) apart, so
 * every route of the E2B API answers errors in this shape; Wrenn's own code rides along
 * in `error_code` (a field E2B's schema has for that purpose).
 */
import type { FastifyInstance } from 'fastify';
import { httpErrorOf } from '../../errors.js';

export function installE2bErrors(scope: FastifyInstance): void {
  scope.setErrorHandler((err, request, reply) => {
    // Schema validation and Fastify's own refusals are 4xx, as on the native API.
    const e = httpErrorOf(err);
    if (e.httpStatus >= 500) request.log.error({ err, code: e.code }, 'request failed');
    else request.log.info({ code: e.code, msg: e.message }, 'request refused');
    return reply.code(e.httpStatus).type('application/json').send({ code: e.httpStatus, message: e.message, error_code: e.code });
  });
}
