/**
 * One registry of error codes for every Wrenn component. Each code carries its HTTP
 * status, its Connect code and its code in the native API's published vocabulary
 * (`api`), so a code without any of the three does not compile, and every server
 * renders errors the same way from one place.
 *
 * On the wire (see `wireError`): `error.code` is the published code a client generated
 * from Wrenn's OpenAPI document understands (`not_found`, `invalid_state`, ...);
 * `error.reason` is the precise registry code (`capsule_not_found`, `capsule_busy`, ...).
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

/**
 * The error codes of Wrenn's published API (its OpenAPI document and server): what
 * `error.code` says on the native API. Anything more precise rides in `error.reason`.
 */
export const API_ERROR_CODES = [
  'invalid_request',
  'unauthorized',
  'forbidden',
  'not_found',
  'invalid_state',
  'conflict',
  'host_has_sandboxes',
  'host_unavailable',
  'agent_error',
  'internal_error',
] as const;
export type ApiErrorCode = (typeof API_ERROR_CODES)[number];

interface CodeSpec {
  readonly http: number;
  readonly connect: ConnectCodeNumber;
  /** The published code this one is reported as in `error.code`. */
  readonly api: ApiErrorCode;
}

export const ERROR_CODES = {
  invalid_argument: { http: 400, connect: ConnectCode.InvalidArgument, api: 'invalid_request' },
  unauthenticated: { http: 401, connect: ConnectCode.Unauthenticated, api: 'unauthorized' },
  permission_denied: { http: 403, connect: ConnectCode.PermissionDenied, api: 'forbidden' },
  not_found: { http: 404, connect: ConnectCode.NotFound, api: 'not_found' },
  file_not_found: { http: 404, connect: ConnectCode.NotFound, api: 'not_found' },
  process_not_found: { http: 404, connect: ConnectCode.NotFound, api: 'not_found' },
  watcher_not_found: { http: 404, connect: ConnectCode.NotFound, api: 'not_found' },
  user_not_found: { http: 401, connect: ConnectCode.Unauthenticated, api: 'unauthorized' },
  conflict: { http: 409, connect: ConnectCode.AlreadyExists, api: 'conflict' },
  already_exists: { http: 409, connect: ConnectCode.AlreadyExists, api: 'conflict' },
  not_a_directory: { http: 400, connect: ConnectCode.InvalidArgument, api: 'invalid_request' },
  is_a_directory: { http: 400, connect: ConnectCode.InvalidArgument, api: 'invalid_request' },
  failed_precondition: { http: 412, connect: ConnectCode.FailedPrecondition, api: 'invalid_state' },
  range_not_satisfiable: { http: 416, connect: ConnectCode.OutOfRange, api: 'invalid_request' },
  payload_too_large: { http: 413, connect: ConnectCode.ResourceExhausted, api: 'invalid_request' },
  /** The request's content-type is one the route does not take. */
  unsupported_media_type: { http: 415, connect: ConnectCode.InvalidArgument, api: 'invalid_request' },
  /** The request's headers are larger than the server reads. */
  headers_too_large: { http: 431, connect: ConnectCode.InvalidArgument, api: 'invalid_request' },
  /** The client did not send its request (headers or body) in time. */
  request_timeout: { http: 408, connect: ConnectCode.DeadlineExceeded, api: 'invalid_request' },
  not_enough_disk_space: { http: 507, connect: ConnectCode.ResourceExhausted, api: 'agent_error' },
  resource_exhausted: { http: 429, connect: ConnectCode.ResourceExhausted, api: 'invalid_request' },
  /**
   * Too many failed attempts (logins for an email or from an address, activation tokens):
   * refused without checking the credentials until `details.retryAfterSec` (also sent as
   * the `Retry-After` header) has passed.
   */
  too_many_attempts: { http: 429, connect: ConnectCode.ResourceExhausted, api: 'invalid_request' },
  deadline_exceeded: { http: 504, connect: ConnectCode.DeadlineExceeded, api: 'agent_error' },
  canceled: { http: 499, connect: ConnectCode.Canceled, api: 'internal_error' },
  unavailable: { http: 503, connect: ConnectCode.Unavailable, api: 'host_unavailable' },
  internal: { http: 500, connect: ConnectCode.Internal, api: 'internal_error' },
  capsule_not_found: { http: 404, connect: ConnectCode.NotFound, api: 'not_found' },
  template_not_found: { http: 404, connect: ConnectCode.NotFound, api: 'not_found' },
  build_not_found: { http: 404, connect: ConnectCode.NotFound, api: 'not_found' },
  /** A recipe or Dockerfile line that cannot be parsed; `details.line` names it. */
  invalid_recipe: { http: 400, connect: ConnectCode.InvalidArgument, api: 'invalid_request' },
  /** The capsule exists but its state does not allow the operation (pausing, stopped, ...). */
  capsule_busy: { http: 409, connect: ConnectCode.FailedPrecondition, api: 'invalid_state' },
  host_at_capacity: { http: 503, connect: ConnectCode.ResourceExhausted, api: 'host_unavailable' },
  volume_not_found: { http: 404, connect: ConnectCode.NotFound, api: 'not_found' },
  /** A volume is held by a capsule (its one writer): another mount, its content calls and its deletion wait until it is gone. */
  volume_in_use: { http: 409, connect: ConnectCode.FailedPrecondition, api: 'invalid_state' },
  /** The server (or the host agent behind it) does not support the operation yet. */
  not_implemented: { http: 501, connect: ConnectCode.Unimplemented, api: 'agent_error' },
  /**
   * Proxied traffic: the capsule is not running (paused, stopped, unknown), so nothing can
   * answer on its ports. 502, as the e2b SDK's isRunning() expects of a paused sandbox.
   */
  capsule_unreachable: { http: 502, connect: ConnectCode.Unavailable, api: 'invalid_state' },
  /** Proxied traffic: the capsule runs, but nothing answered on the port (or the next hop failed). */
  bad_gateway: { http: 502, connect: ConnectCode.Unavailable, api: 'agent_error' },
  /**
   * Deleting a host that still has capsules (without `force`): `details.capsuleIds` names
   * them; the wire adds them as `capsule_ids` and, as the published schema calls them,
   * `sandbox_ids`. The published code is the contract's `host_has_sandboxes`.
   */
  host_has_capsules: { http: 409, connect: ConnectCode.FailedPrecondition, api: 'host_has_sandboxes' },
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

  /** The published code (`error.code` on the wire). */
  get apiCode(): ApiErrorCode {
    return ERROR_CODES[this.code].api;
  }

  toJSON(): { error: WireError } {
    return { error: wireError(this) };
  }
}

/** The body of `{"error": ...}` on every HTTP answer and WebSocket error message. */
export interface WireError {
  /** Published vocabulary (API_ERROR_CODES). */
  code: ApiErrorCode;
  /** The precise registry code. */
  reason: ErrorCode;
  message: string;
  details?: Record<string, unknown>;
  /** host_has_capsules only: the capsules that block the delete (and `sandbox_ids`, the published name). */
  capsule_ids?: string[];
  sandbox_ids?: string[];
}

export function wireError(err: WrennError): WireError {
  const ids = err.code === 'host_has_capsules' && Array.isArray(err.details?.capsuleIds) ? (err.details.capsuleIds as string[]) : undefined;
  return {
    code: err.apiCode,
    reason: err.code,
    message: err.message,
    ...(err.details ? { details: err.details } : {}),
    ...(ids ? { capsule_ids: ids, sandbox_ids: ids } : {}),
  };
}

export function isErrorCode(code: unknown): code is ErrorCode {
  return typeof code === 'string' && Object.hasOwn(ERROR_CODES, code);
}

/**
 * The registry code an error decoded from a peer gets when the peer named none (an older
 * peer, or a failure of the transport itself), by its Connect code. Every Connect code
 * has one, or this does not compile.
 */
export const CODE_OF_CONNECT: Record<ConnectCodeNumber, ErrorCode> = {
  [ConnectCode.Canceled]: 'canceled',
  [ConnectCode.Unknown]: 'internal',
  [ConnectCode.InvalidArgument]: 'invalid_argument',
  [ConnectCode.DeadlineExceeded]: 'deadline_exceeded',
  [ConnectCode.NotFound]: 'not_found',
  [ConnectCode.AlreadyExists]: 'already_exists',
  [ConnectCode.PermissionDenied]: 'permission_denied',
  [ConnectCode.ResourceExhausted]: 'resource_exhausted',
  [ConnectCode.FailedPrecondition]: 'failed_precondition',
  [ConnectCode.Aborted]: 'conflict',
  [ConnectCode.OutOfRange]: 'range_not_satisfiable',
  [ConnectCode.Unimplemented]: 'not_implemented',
  [ConnectCode.Internal]: 'internal',
  [ConnectCode.Unavailable]: 'unavailable',
  [ConnectCode.DataLoss]: 'internal',
  [ConnectCode.Unauthenticated]: 'unauthenticated',
};

/** The same, by HTTP status, for plain HTTP answers that name no code (unknown statuses: `internal`). */
export function codeOfHttpStatus(status: number): ErrorCode {
  const generic: Record<number, ErrorCode> = {
    400: 'invalid_argument',
    401: 'unauthenticated',
    403: 'permission_denied',
    404: 'not_found',
    408: 'request_timeout',
    409: 'conflict',
    412: 'failed_precondition',
    413: 'payload_too_large',
    415: 'unsupported_media_type',
    416: 'range_not_satisfiable',
    429: 'resource_exhausted',
    431: 'headers_too_large',
    499: 'canceled',
    501: 'not_implemented',
    502: 'bad_gateway',
    503: 'unavailable',
    504: 'deadline_exceeded',
    507: 'not_enough_disk_space',
  };
  return generic[status] ?? (status >= 400 && status < 500 ? 'invalid_argument' : 'internal');
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
