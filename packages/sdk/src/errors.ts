/**
 * The one error the SDK throws for a failed API call, from the server's
 * `{"error":{"code","reason","message"}}`: the HTTP status, `code` in Wrenn's published
 * vocabulary (`not_found`, `invalid_state`, `unauthorized`, ...), `reason` the precise code
 * (`capsule_not_found`, `capsule_busy`, `unauthenticated`, ...; equal to `code` when the
 * server sent none), the message and the request id to quote when reporting a problem.
 * A server that cannot be reached gives status 0, code and reason `unavailable`.
 */
export class WrennApiError extends Error {
  override readonly name = 'WrennApiError';
  readonly reason: string;
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly requestId?: string,
    readonly details?: Record<string, unknown>,
    options?: { cause?: unknown; reason?: string },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.reason = options?.reason ?? code;
  }
}

/** True for a WrennApiError; with `code`, only one whose code or reason is that (`'not_found'`, `'capsule_not_found'`). */
export function isWrennApiError(err: unknown, code?: string): err is WrennApiError {
  return err instanceof WrennApiError && (code === undefined || err.code === code || err.reason === code);
}

/** Fallback [code, reason] when a response carries no Wrenn error body (a proxy's 502, ...). */
function codesForStatus(status: number): [string, string] {
  if (status === 400) return ['invalid_request', 'invalid_argument'];
  if (status === 401) return ['unauthorized', 'unauthenticated'];
  if (status === 403) return ['forbidden', 'permission_denied'];
  if (status === 404) return ['not_found', 'not_found'];
  if (status === 409) return ['conflict', 'conflict'];
  if (status === 413) return ['invalid_request', 'payload_too_large'];
  if (status === 429) return ['invalid_request', 'resource_exhausted'];
  if (status === 503) return ['host_unavailable', 'unavailable'];
  if (status === 504) return ['agent_error', 'deadline_exceeded'];
  return status >= 500 ? ['internal_error', 'internal'] : ['invalid_request', 'unknown'];
}

/** Builds the error from a response body (already read as text). */
export function errorFromBody(status: number, text: string, requestId: string | undefined, what: string): WrennApiError {
  try {
    const parsed = JSON.parse(text) as { error?: { code?: unknown; reason?: unknown; message?: unknown; details?: unknown } };
    const e = parsed?.error;
    if (e && typeof e.code === 'string') {
      const details = e.details && typeof e.details === 'object' ? (e.details as Record<string, unknown>) : undefined;
      const reason = typeof e.reason === 'string' ? e.reason : e.code;
      return new WrennApiError(status, e.code, typeof e.message === 'string' ? e.message : reason, requestId, details, { reason });
    }
  } catch {
    // not JSON: fall through with the raw text
  }
  const snippet = text.trim().slice(0, 200);
  const [code, reason] = codesForStatus(status);
  return new WrennApiError(status, code, `${what} failed with HTTP ${status}${snippet ? `: ${snippet}` : ''}`, requestId, undefined, { reason });
}
