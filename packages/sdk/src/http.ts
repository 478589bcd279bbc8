/**
 * HTTP transport of the SDK: one base URL and credentials, keep-alive connections, errors
 * parsed once into WrennApiError, every call cancellable through its `signal` and bounded
 * by an optional `timeoutMs`.
 *
 * JSON calls go through node:http (http-json.ts: a tenth of fetch's per-call cost and far
 * steadier tails, which matters for an exec round trip of a few milliseconds, and nothing
 * heavy to load at start); streamed bodies and multipart uploads go through fetch, whose web
 * streams the file API exposes.
 */
import { requestText } from './http-json.js';
import { WrennApiError, errorFromBody } from './errors.js';
import { camelize } from './case.js';

export interface CallOptions {
  /** Cancels the call (the request is aborted; the promise rejects with the signal's reason). */
  signal?: AbortSignal;
  /** Gives up after this long (rejects with a TimeoutError DOMException). Default: the client's, else none. */
  timeoutMs?: number;
}

export interface Credentials {
  apiKey?: string;
  token?: string;
}

export interface TransportOptions extends Credentials {
  baseUrl: string;
  /** Default timeout of every call; 0 or unset = none (long operations pass their own). */
  timeoutMs?: number;
  /** Extra headers on every request (e.g. a user agent). */
  headers?: Record<string, string>;
}

type Query = Record<string, string | number | boolean | undefined>;

export interface RawRequest extends CallOptions {
  query?: Query;
  /** JSON body (serialised) — or `body` for anything else. */
  json?: unknown;
  body?: RequestInit['body'];
  headers?: Record<string, string>;
  /** Streamed request body (fetch needs `duplex: 'half'` for that). */
  streaming?: boolean;
  /** Path outside the versioned API (`/health`). */
  unversioned?: boolean;
}

export class Transport {
  /** Root of the API, without a trailing slash or version (`http://host:8080`). */
  readonly baseUrl: string;
  private readonly auth: Record<string, string>;
  private readonly extraHeaders: Record<string, string>;
  private readonly defaultTimeoutMs: number;

  constructor(opts: TransportOptions) {
    if (!opts.baseUrl) throw new TypeError('Wrenn: baseUrl is required (e.g. http://127.0.0.1:8080)');
    // Accept http://host, http://host/api, http://host/v1 and http://host/api/v1 alike.
    this.baseUrl = opts.baseUrl.replace(/\/+$/, '').replace(/\/v1$/, '');
    this.auth = opts.apiKey ? { 'x-api-key': opts.apiKey } : opts.token ? { authorization: `Bearer ${opts.token}` } : {};
    this.extraHeaders = opts.headers ?? {};
    this.defaultTimeoutMs = opts.timeoutMs ?? 0;
  }

  /** Headers that authenticate a request (also used for WebSocket upgrades). */
  authHeaders(): Record<string, string> {
    return { ...this.extraHeaders, ...this.auth };
  }

  /** URL of an API path (`/capsules` → `<base>/v1/capsules`); `unversioned` for `/health`. */
  url(path: string, query?: Query, unversioned = false): string {
    const u = new URL(`${this.baseUrl}${unversioned ? '' : '/v1'}${path}`);
    for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined) u.searchParams.set(k, String(v));
    return u.toString();
  }

  /** Combines the caller's signal with the timeout. */
  private signalFor(opts: CallOptions): AbortSignal | undefined {
    const timeoutMs = opts.timeoutMs ?? this.defaultTimeoutMs;
    const signals = [opts.signal, timeoutMs > 0 ? AbortSignal.timeout(timeoutMs) : undefined].filter((s): s is AbortSignal => s !== undefined);
    if (signals.length === 0) return undefined;
    return signals.length === 1 ? signals[0] : AbortSignal.any(signals);
  }

  /** A failure before any response: the abort reason when aborted, else "cannot reach". */
  private networkError(err: unknown, signal: AbortSignal | undefined): unknown {
    if (signal?.aborted) return signal.reason ?? err;
    const e = err as { code?: string; message?: string; cause?: { code?: string; message?: string } };
    const why = e.cause?.code ?? e.code ?? e.cause?.message ?? e.message;
    return new WrennApiError(0, 'unavailable', `cannot reach the Wrenn API at ${this.baseUrl} (${why}): is the server running and the URL right?`, undefined, undefined, { cause: err });
  }

  /** A request whose response is returned as is when 2xx (through fetch: streams, forms); anything else throws WrennApiError. */
  async raw(method: string, path: string, req: RawRequest = {}): Promise<Response> {
    const headers: Record<string, string> = { ...this.authHeaders(), ...(req.headers ?? {}) };
    let body = req.body;
    if (req.json !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(req.json);
    }
    const signal = this.signalFor(req);
    let res: Response;
    try {
      res = await fetch(this.url(path, req.query, req.unversioned), {
        method,
        headers,
        ...(body !== undefined ? { body } : {}),
        ...(signal ? { signal } : {}),
        ...(req.streaming ? { duplex: 'half' as const } : {}),
      } as RequestInit);
    } catch (err) {
      throw this.networkError(err, signal);
    }
    if (!res.ok) {
      const text = await res.text().catch(() => '');
      throw errorFromBody(res.status, text, res.headers.get('x-request-id') ?? undefined, `${method} ${path}`);
    }
    return res;
  }

  /** A JSON call: the body in camelCase, or undefined for 204. */
  async json<T>(method: string, path: string, req: Omit<RawRequest, 'body' | 'streaming'> = {}): Promise<T> {
    const headers: Record<string, string> = { ...this.authHeaders(), ...(req.headers ?? {}) };
    let body: string | undefined;
    if (req.json !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(req.json);
    }
    const signal = this.signalFor(req);
    let status: number;
    let requestId: string | undefined;
    let text: string;
    try {
      const res = await requestText(this.url(path, req.query, req.unversioned), {
        method,
        headers,
        ...(body !== undefined ? { body } : {}),
        ...(signal ? { signal } : {}),
      });
      status = res.status;
      requestId = res.requestId;
      text = res.text;
    } catch (err) {
      throw this.networkError(err, signal);
    }
    if (status < 200 || status >= 300) throw errorFromBody(status, text, requestId, `${method} ${path}`);
    if (status === 204 || !text) return undefined as T;
    try {
      return camelize<T>(JSON.parse(text));
    } catch {
      throw new WrennApiError(status, 'internal', `${method} ${path}: the server answered with something that is not JSON`, requestId);
    }
  }
}
