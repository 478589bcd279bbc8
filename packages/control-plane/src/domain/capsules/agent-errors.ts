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
