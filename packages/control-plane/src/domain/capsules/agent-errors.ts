/**
 * Reading the errors host agents answer with. The agent sends Connect errors whose
 * `x-wrenn-error-code` names the Wrenn code; the HTTP error handler renders them as they
 * are. Here we only look at them where a capsule operation must decide what happened
 * (record a reason, re-word a "not found" so it names the path, recognise an agent too old
 * for an RPC).
 */
import { Code, ConnectError } from '@connectrpc/connect';
import { WrennError, type ErrorCode } from '@wrenn/shared';

export interface AgentFailure {
  /** Connect status of the call, when the error came from the RPC layer. */
  connect?: Code;
  /** The Wrenn code the agent sent (x-wrenn-error-code), or ours for a WrennError. */
  wrenn?: string;
  message: string;
}

export function agentFailure(err: unknown): AgentFailure {
  if (err instanceof WrennError) return { wrenn: err.code, message: err.message };
  if (err instanceof ConnectError) {
    const sent = err.metadata.get('x-wrenn-error-code') ?? undefined;
    return { connect: err.code, ...(sent ? { wrenn: sent } : {}), message: err.rawMessage };
  }
  return { message: err instanceof Error ? err.message : String(err) };
}

/** One line for the capsule's `error` column and logs. */
export function reasonOf(err: unknown): string {
  const f = agentFailure(err);
  return f.wrenn ? `${f.wrenn}: ${f.message}` : f.message;
}

export function isUnimplemented(err: unknown): boolean {
  return agentFailure(err).connect === Code.Unimplemented;
}

/** The agent (or the network to it) could not be reached; the operation never ran. */
export function isUnreachable(err: unknown): boolean {
  const f = agentFailure(err);
  return f.connect === Code.Unavailable || f.wrenn === 'unavailable';
}

/** The agent does not know the capsule (it is gone from the host). */
export function isCapsuleGone(err: unknown): boolean {
  return agentFailure(err).wrenn === 'capsule_not_found';
}

/**
 * Re-words "not found" / "already exists" answers about a path or process so the message
 * names what the caller asked for; anything else is returned unchanged.
 */
export function renameNotFound(err: unknown, code: ErrorCode, message: string, details: Record<string, unknown>): unknown {
  const f = agentFailure(err);
  if (f.wrenn === 'capsule_not_found') return err;
  if (f.connect === Code.NotFound || f.wrenn === 'not_found' || f.wrenn === 'file_not_found' || f.wrenn === 'process_not_found') {
    return new WrennError(code, message, details, { cause: err });
  }
  return err;
}

export function renameAlreadyExists(err: unknown, message: string, details: Record<string, unknown>): unknown {
  const f = agentFailure(err);
  if (f.connect === Code.AlreadyExists || f.wrenn === 'already_exists' || f.wrenn === 'conflict') return new WrennError('conflict', message, details, { cause: err });
  return err;
}
