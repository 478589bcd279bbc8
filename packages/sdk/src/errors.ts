/**
 * The one error the SDK throws for a failed API call: the HTTP status, the server's error
 * code (`capsule_not_found`, `capsule_busy`, ...) and message from
 * `{"error":{"code","message"}}`, and the request id to quote when reporting a problem.
 * A server that cannot be reached gives status 0 and code `unavailable`.
 */
export class WrennApiError extends Error {
  override readonly name = 'WrennApiError';
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly requestId?: string,
    readonly details?: Record<string, unknown>,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export function isWrennApiError(err: unknown, code?: string): err is WrennApiError {
  return err instanceof WrennApiError && (code === undefined || err.code === code);
}

/** Fallback codes when a response carries no Wrenn error body (a proxy's 502, ...). */
function codeForStatus(status: number): string {
  if (status === 400) return 'invalid_argument';
  if (status === 401) return 'unauthenticated';
  if (status === 403) return 'permission_denied';
  if (status === 404) return 'not_found';
  if (status === 409) return 'conflict';
  if (status === 413) return 'payload_too_large';
  if (status === 429) return 'resource_exhausted';
  if (status === 503) return 'unavailable';
  if (status === 504) return 'deadline_exceeded';
  return status >= 500 ? 'internal' : 'unknown';
}

/** Builds the error from a response body (already read as text). */
export function errorFromBody(status: number, text: string, requestId: string | undefined, what: string): WrennApiError {
  try {
    const parsed = JSON.parse(text) as { error?: { code?: unknown; message?: unknown; details?: unknown } };
    const e = parsed?.error;
    if (e && typeof e.code === 'string') {
      const details = e.details && typeof e.details === 'object' ? (e.details as Record<string, unknown>) : undefined;
      return new WrennApiError(status, e.code, typeof e.message === 'string' ? e.message : e.code, requestId, details);
    }
  } catch {
    // not JSON: fall through with the raw text
  }
  const snippet = text.trim().slice(0, 200);
  return new WrennApiError(status, codeForStatus(status), `${what} failed with HTTP ${status}${snippet ? `: ${snippet}` : ''}`, requestId);
}
