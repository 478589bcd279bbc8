/**
 * One registry of error codes for every Wrenn component. Each code carries its HTTP
 * status and its Connect code, so a code without a mapping does not compile, and every
 * server renders errors the same way from one place.
 */

/** Connect RPC status codes (numbers match @connectrpc/connect's `Code`). */
export const ConnectCode = {
  Canceled: 1,
  Unknown: 2,
  InvalidArgument: 3,
  DeadlineExceeded: 4,
  NotFound: 5,
  AlreadyExists: 6,
  PermissionDenied: 7,
  ResourceExhausted: 8,
  FailedPrecondition: 9,
  Aborted: 10,
  OutOfRange: 11,
  Unimplemented: 12,
  Internal: 13,
  Unavailable: 14,
  DataLoss: 15,
  Unauthenticated: 16,
} as const;
export type ConnectCodeNumber = (typeof ConnectCode)[keyof typeof ConnectCode];

interface CodeSpec {
  readonly http: number;
  readonly connect: ConnectCodeNumber;
}

export const ERROR_CODES = {
  invalid_argument: { http: 400, connect: ConnectCode.InvalidArgument },
  unauthenticated: { http: 401, connect: ConnectCode.Unauthenticated },
  permission_denied: { http: 403, connect: ConnectCode.PermissionDenied },
  not_found: { http: 404, connect: ConnectCode.NotFound },
  file_not_found: { http: 404, connect: ConnectCode.NotFound },
  process_not_found: { http: 404, connect: ConnectCode.NotFound },
  watcher_not_found: { http: 404, connect: ConnectCode.NotFound },
  user_not_found: { http: 401, connect: ConnectCode.Unauthenticated },
  conflict: { http: 409, connect: ConnectCode.AlreadyExists },
  already_exists: { http: 409, connect: ConnectCode.AlreadyExists },
  not_a_directory: { http: 400, connect: ConnectCode.InvalidArgument },
  is_a_directory: { http: 400, connect: ConnectCode.InvalidArgument },
  failed_precondition: { http: 412, connect: ConnectCode.FailedPrecondition },
  range_not_satisfiable: { http: 416, connect: ConnectCode.OutOfRange },
  payload_too_large: { http: 413, connect: ConnectCode.ResourceExhausted },
  not_enough_disk_space: { http: 507, connect: ConnectCode.ResourceExhausted },
  resource_exhausted: { http: 429, connect: ConnectCode.ResourceExhausted },
  /**
   * Too many failed attempts (logins for an email or from an address, activation tokens):
   * refused without checking the credentials until `details.retryAfterSec` (also sent as
   * the `Retry-After` header) has passed.
   */
  too_many_attempts: { http: 429, connect: ConnectCode.ResourceExhausted },
  deadline_exceeded: { http: 504, connect: ConnectCode.DeadlineExceeded },
  canceled: { http: 499, connect: ConnectCode.Canceled },
  unavailable: { http: 503, connect: ConnectCode.Unavailable },
  internal: { http: 500, connect: ConnectCode.Internal },
  capsule_not_found: { http: 404, connect: ConnectCode.NotFound },
  template_not_found: { http: 404, connect: ConnectCode.NotFound },
  build_not_found: { http: 404, connect: ConnectCode.NotFound },
  /** A recipe or Dockerfile line that cannot be parsed; `details.line` names it. */
  invalid_recipe: { http: 400, connect: ConnectCode.InvalidArgument },
  /** The capsule exists but its state does not allow the operation (pausing, stopped, ...). */
  capsule_busy: { http: 409, connect: ConnectCode.FailedPrecondition },
  host_at_capacity: { http: 503, connect: ConnectCode.ResourceExhausted },
  /** The server (or the host agent behind it) does not support the operation yet. */
  not_implemented: { http: 501, connect: ConnectCode.Unimplemented },
  /**
   * Proxied traffic: the capsule is not running (paused, stopped, unknown), so nothing can
   * answer on its ports. 502, as the e2b SDK's isRunning() expects of a paused sandbox.
   */
  capsule_unreachable: { http: 502, connect: ConnectCode.Unavailable },
  /** Proxied traffic: the capsule runs, but nothing answered on the port (or the next hop failed). */
  bad_gateway: { http: 502, connect: ConnectCode.Unavailable },
} as const satisfies Record<string, CodeSpec>;

export type ErrorCode = keyof typeof ERROR_CODES;

/** The one error class. Throw it; servers render it with `httpStatusOf`/`connectCodeOf`. */
export class WrennError extends Error {
  override readonly name = 'WrennError';
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: Record<string, unknown>,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }

  get httpStatus(): number {
    return ERROR_CODES[this.code].http;
  }

  get connectCode(): ConnectCodeNumber {
    return ERROR_CODES[this.code].connect;
  }

  toJSON(): { error: { code: ErrorCode; message: string; details?: Record<string, unknown> } } {
    return { error: { code: this.code, message: this.message, ...(this.details ? { details: this.details } : {}) } };
  }
}

export function isWrennError(err: unknown): err is WrennError {
  return err instanceof WrennError;
}

/**
 * Maps a Node.js system error (fs, net, child_process) on `path` to a WrennError whose
 * message names the path, so the user learns what was refused, not just "EACCES".
 */
export function fromSystemError(err: unknown, path?: string): WrennError {
  if (err instanceof WrennError) return err;
  const e = err as NodeJS.ErrnoException;
  const where = path ? ` ${JSON.stringify(path)}` : '';
  switch (e?.code) {
    case 'ENOENT':
      return new WrennError('file_not_found', `path${where} does not exist`, path ? { path } : undefined, { cause: err });
    case 'EACCES':
    case 'EPERM':
      return new WrennError('permission_denied', `permission denied on path${where}`, path ? { path } : undefined, { cause: err });
    case 'EEXIST':
      return new WrennError('already_exists', `path${where} already exists`, path ? { path } : undefined, { cause: err });
    case 'ENOTDIR':
      return new WrennError('not_a_directory', `a component of path${where} is not a directory`, path ? { path } : undefined, { cause: err });
    case 'EISDIR':
      return new WrennError('is_a_directory', `path${where} is a directory`, path ? { path } : undefined, { cause: err });
    case 'ENOSPC':
    case 'EDQUOT':
      return new WrennError('not_enough_disk_space', `no space left on device while writing${where}`, path ? { path } : undefined, { cause: err });
    case 'ENOTEMPTY':
      return new WrennError('conflict', `directory${where} is not empty`, path ? { path } : undefined, { cause: err });
    case 'ENAMETOOLONG':
    case 'EINVAL':
      return new WrennError('invalid_argument', `invalid path${where}: ${e.message}`, path ? { path } : undefined, { cause: err });
    default:
      return new WrennError('internal', `${e?.message ?? String(err)}${where ? ` (on${where})` : ''}`, path ? { path } : undefined, { cause: err });
  }
}
