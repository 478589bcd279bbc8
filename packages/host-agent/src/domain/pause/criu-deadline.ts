/**
 * A CRIU dump or restore that overran its deadline (the runtime killed it) says which
 * setting the deadline comes from, so an operator with very large capsules knows what to
 * raise. Every other error passes through.
 */
import { WrennError, isWrennError } from '@wrenn/shared';

export function withTimeoutHint(err: unknown): unknown {
  if (!isWrennError(err) || err.code !== 'deadline_exceeded') return err;
  return new WrennError('deadline_exceeded', `${err.message} (the deadline is WRENN_PAUSE_TIMEOUT_MS)`, err.details, { cause: err });
}
