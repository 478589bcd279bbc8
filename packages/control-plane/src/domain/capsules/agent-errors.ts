/**
 * Reading failures of capsule operations. Agent clients already decode every error once
 * (infra/agent-pool.ts → `fromConnectError`), so what reaches the domain is a WrennError
 * with a registry code: these helpers only read that code, and re-word a "not found" or
 * "already exists" so it names what the caller asked for.
 */
import { WrennError, type ErrorCode } from '@wrenn/shared';

/** The registry code of a failure, or undefined for something that is not a WrennError. */
export function codeOf(err: unknown): ErrorCode | undefined {
  return err instanceof WrennError ? err.code : undefined;
}

/** One line for the capsule's `error` column and logs. */
export function reasonOf(err: unknown): string {
  if (err instanceof WrennError) return `${err.code}: ${err.message}`;
  return err instanceof Error ? err.message : String(err);
}

/** Socket errors that mean no connection was made: the request never reached the agent. */
const NOT_CONNECTED = new Set(['ECONNREFUSED', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EHOSTDOWN']);

/**
 * The call failed before a connection to the agent existed (refused, or not connected in
 * time: see AgentPool): nothing ran on the host, so the operation may go to another one.
 * The decoded `unavailable` keeps the socket error in its cause chain.
 */
export function isNotConnected(err: unknown): boolean {
  if (codeOf(err) !== 'unavailable') return false;
  for (let e = (err as { cause?: unknown }).cause, depth = 0; e && depth < 4; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && NOT_CONNECTED.has(code)) return true;
  }
  return false;
}

/**
 * A "not found" about a path or process becomes `code` with a message naming it; the
 * capsule itself being gone (`capsule_not_found`) and anything else pass unchanged.
 */
export function renameNotFound(err: unknown, code: ErrorCode, message: string, details: Record<string, unknown>): unknown {
  if (err instanceof WrennError && err.apiCode === 'not_found' && err.code !== 'capsule_not_found') return new WrennError(code, message, details, { cause: err });
  return err;
}

export function renameAlreadyExists(err: unknown, message: string, details: Record<string, unknown>): unknown {
  if (err instanceof WrennError && err.apiCode === 'conflict') return new WrennError('conflict', message, details, { cause: err });
  return err;
}
