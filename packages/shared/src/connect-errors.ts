/**
 * WrennError ↔ Connect, both ways, in one place.
 *
 * Servers: handlers throw WrennErrors (or system errors); one interceptor renders them
 * with the code's Connect status and the precise code in the `x-wrenn-error-code` header.
 * Clients: every client is made by `createWrennClient`, whose calls throw WrennErrors
 * decoded once by `fromConnectError` (the header's code when the peer sent one, else the
 * registry's code for the Connect status), so no caller ever looks at a ConnectError.
 */
import { Code, ConnectError, createClient, type Client, type Interceptor, type Transport } from '@connectrpc/connect';
import { CODE_OF_CONNECT, WrennError, fromSystemError, isErrorCode } from './errors.js';

export const ERROR_CODE_HEADER = 'x-wrenn-error-code';

export function toConnectError(err: unknown): ConnectError {
  if (err instanceof ConnectError) return err;
  const e = err instanceof WrennError ? err : (err as NodeJS.ErrnoException)?.code ? fromSystemError(err) : undefined;
  if (e) return new ConnectError(e.message, e.connectCode as number as Code, { [ERROR_CODE_HEADER]: e.code }, undefined, err);
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

const UNREACHABLE = new Set(['ECONNREFUSED', 'ECONNRESET', 'EHOSTUNREACH', 'ENETUNREACH', 'EPIPE', 'ETIMEDOUT']);

/**
 * The one decoder of errors from a Connect peer (envd for the agent, an agent for the
 * control plane): the code the peer named in `x-wrenn-error-code`, else the registry's
 * code for the Connect status. A WrennError passes through; a connection that could not
 * be made is `unavailable`; an abort is `canceled`. `peer` names the other side in messages.
 */
export function fromConnectError(err: unknown, peer = 'the peer'): WrennError {
  if (err instanceof WrennError) return err;
  if (err instanceof ConnectError) {
    // Something thrown inside the call (an interceptor, a signal) that Connect wrapped.
    if (err.cause instanceof WrennError) return err.cause;
    const sent = err.metadata.get(ERROR_CODE_HEADER);
    const code = isErrorCode(sent) ? sent : CODE_OF_CONNECT[err.code as number as keyof typeof CODE_OF_CONNECT] ?? 'internal';
    return new WrennError(code, err.rawMessage, undefined, { cause: err });
  }
  const e = err as NodeJS.ErrnoException;
  if (typeof e?.code === 'string' && UNREACHABLE.has(e.code)) return new WrennError('unavailable', `${peer} unreachable: ${e.message}`, undefined, { cause: err });
  if (e?.name === 'AbortError' || e?.name === 'TimeoutError') return new WrennError('canceled', e.message, undefined, { cause: err });
  return new WrennError('internal', e?.message ?? String(err), undefined, { cause: err });
}

/**
 * Any thrown value as a WrennError a server may render: WrennErrors as they are, a peer's
 * Connect error decoded, anything else an `internal` error whose message (which may
 * carry internals) stays in the log, not in the answer.
 */
export function asWrennError(err: unknown): WrennError {
  if (err instanceof WrennError) return err;
  if (err instanceof ConnectError) return fromConnectError(err);
  return new WrennError('internal', 'internal error', undefined, { cause: err });
}

type AnyService = Parameters<typeof createClient>[0];

async function* decodeStream<T>(stream: AsyncIterable<T>, decode: (err: unknown) => WrennError): AsyncGenerator<T> {
  try {
    yield* stream;
  } catch (err) {
    throw decode(err);
  }
}

/**
 * `createClient` whose every call (and every streamed message) fails with a WrennError,
 * decoded by `decode` (default: `fromConnectError`). Connect re-wraps whatever an
 * interceptor throws into a ConnectError, so decoding cannot live in an interceptor: it
 * wraps the client's methods instead, once, where the client is made.
 */
export function createWrennClient<T extends AnyService>(service: T, transport: Transport, decode: (err: unknown) => WrennError = (err) => fromConnectError(err)): Client<T> {
  const raw = createClient(service, transport) as unknown as Record<string, (...args: unknown[]) => unknown>;
  const out: Record<string, unknown> = {};
  for (const m of service.methods) {
    const call = raw[m.localName]!;
    if (m.methodKind === 'server_streaming' || m.methodKind === 'bidi_streaming') {
      out[m.localName] = (...args: unknown[]) => decodeStream(call(...args) as AsyncIterable<unknown>, decode);
    } else {
      out[m.localName] = async (...args: unknown[]) => {
        try {
          return await call(...args);
        } catch (err) {
          throw decode(err);
        }
      };
    }
  }
  return out as Client<T>;
}
