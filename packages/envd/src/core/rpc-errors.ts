/** Renders thrown errors for Connect clients: WrennError codes map to Connect codes. */
import { Code, ConnectError, type Interceptor } from '@connectrpc/connect';
import { WrennError, fromSystemError } from '@wrenn/shared';

export function toConnectError(err: unknown): ConnectError {
  if (err instanceof ConnectError) return err;
  const e = err instanceof WrennError ? err : (err as NodeJS.ErrnoException)?.code ? fromSystemError(err) : undefined;
  if (e) return new ConnectError(e.message, e.connectCode as number as Code, undefined, undefined, err);
  return new ConnectError(err instanceof Error ? err.message : String(err), Code.Internal, undefined, undefined, err);
}

async function* mapStreamErrors<T>(stream: AsyncIterable<T>): AsyncGenerator<T> {
  try {
    yield* stream;
  } catch (err) {
    throw toConnectError(err);
  }
}

/** Server interceptor: every handler may simply throw a WrennError. */
export const errorInterceptor: Interceptor = (next) => async (req) => {
  try {
    const res = await next(req);
    if (res.stream) return { ...res, message: mapStreamErrors(res.message) };
    return res;
  } catch (err) {
    throw toConnectError(err);
  }
};
