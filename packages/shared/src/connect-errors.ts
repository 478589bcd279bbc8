/**
 * WrennError ↔ Connect: servers render thrown errors with the code's Connect status (and
 * the Wrenn code in the `x-wrenn-error-code` trailer/header), through one interceptor.
 */
import { Code, ConnectError, type Interceptor } from '@connectrpc/connect';
import { WrennError, fromSystemError } from './errors.js';

export function toConnectError(err: unknown): ConnectError {
  if (err instanceof ConnectError) return err;
  const e = err instanceof WrennError ? err : (err as NodeJS.ErrnoException)?.code ? fromSystemError(err) : undefined;
  if (e) return new ConnectError(e.message, e.connectCode as number as Code, { 'x-wrenn-error-code': e.code }, undefined, err);
  return new ConnectError(err instanceof Error ? err.message : String(err), Code.Internal, undefined, undefined, err);
}

async function* mapStreamErrors<T>(stream: AsyncIterable<T>): AsyncGenerator<T> {
  try {
    yield* stream;
  } catch (err) {
    throw toConnectError(err);
  }
}

/**
 * Server interceptor: handlers simply throw WrennErrors (or system errors). `onError`
 * sees every failed unary call, for logging.
 */
export function connectErrorInterceptor(onError?: (method: string, err: ConnectError, durationMs: number) => void): Interceptor {
  return (next) => async (req) => {
    const started = Date.now();
    try {
      const res = await next(req);
      if (res.stream) return { ...res, message: mapStreamErrors(res.message) };
      return res;
    } catch (err) {
      const ce = toConnectError(err);
      onError?.(req.method.name, ce, Date.now() - started);
      throw ce;
    }
  };
}
