/**
 * The host agent's client for one capsule's envd (HTTP/1.1 + Connect over the capsule's
 * veth). Each capsule gets its own keep-alive connection pool so a slow capsule never
 * stalls calls to another (docs/decisions.md#h9).
 */
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import type { Readable } from 'node:stream';
import type { Client, Interceptor } from '@connectrpc/connect';
import { createWrennClient, fromConnectError } from '@wrenn/shared/connect';
import { createConnectTransport } from '@connectrpc/connect-node';
import { Process, Signal, type ProcessEvent } from '@wrenn/proto/process';
import { Filesystem } from '@wrenn/proto/filesystem';
import { WrennError, codeOfHttpStatus, isErrorCode, sleep, type EnvdInitRequest } from '@wrenn/shared';

export type EnvdInit = EnvdInitRequest;

export interface ProcessSelector {
  pid?: number;
  tag?: string;
}

/**
 * envd's failures as WrennErrors: the one decoder (`fromConnectError`), which the clients
 * below already apply to every call; for errors of raw requests (`request`) and for code
 * that still wraps calls itself.
 */
export function fromEnvdError(err: unknown): WrennError {
  return fromConnectError(err, 'capsule agent (envd)');
}

export class EnvdClient {
  readonly baseUrl: string;
  private readonly agent = new HttpAgent({ keepAlive: true, maxSockets: 64 });
  readonly process: Client<typeof Process>;
  readonly fs: Client<typeof Filesystem>;

  constructor(
    readonly address: string,
    readonly port: number,
    private accessToken: string | undefined,
  ) {
    this.baseUrl = `http://${address}:${port}`;
    const auth: Interceptor = (next) => async (req) => {
      if (this.accessToken) req.header.set('x-access-token', this.accessToken);
      return next(req);
    };
    const transport = createConnectTransport({
      acceptCompression: [],
      baseUrl: this.baseUrl,
      httpVersion: '1.1',
      useBinaryFormat: true,
      interceptors: [auth],
      nodeOptions: { agent: this.agent },
    });
    this.process = createWrennClient(Process, transport, fromEnvdError);
    this.fs = createWrennClient(Filesystem, transport, fromEnvdError);
  }

  setAccessToken(token: string | undefined): void {
    this.accessToken = token;
  }

  /** Headers selecting the acting user. */
  static userHeaders(user?: string): Record<string, string> {
    return user ? { authorization: `Basic ${Buffer.from(`${user}:`).toString('base64')}` } : {};
  }

  private headers(extra: Record<string, string> = {}): Record<string, string> {
    return { ...(this.accessToken ? { 'x-access-token': this.accessToken } : {}), ...extra };
  }

  /** One raw HTTP request on this capsule's pool; the caller consumes or destroys the response. */
  request(
    method: string,
    path: string,
    opts: { headers?: Record<string, string>; body?: Buffer | string | Readable; signal?: AbortSignal } = {},
  ): Promise<IncomingMessage> {
    return new Promise((resolve, reject) => {
      const req = httpRequest(
        `${this.baseUrl}${path}`,
        { method, agent: this.agent, headers: this.headers(opts.headers), signal: opts.signal },
        resolve,
      );
      req.on('error', reject);
      const body = opts.body;
      if (body === undefined) req.end();
      else if (typeof body === 'string' || Buffer.isBuffer(body)) req.end(body);
      else {
        body.on('error', (err) => req.destroy(err));
        body.pipe(req);
      }
    });
  }

  private async json<T>(method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<T | undefined> {
    const res = await this.request(method, path, {
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal,
    });
    const chunks: Buffer[] = [];
    for await (const c of res) chunks.push(c as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    if ((res.statusCode ?? 500) >= 400) throw EnvdClient.httpError(res.statusCode ?? 500, text);
    return text ? (JSON.parse(text) as T) : undefined;
  }

  /** envd's plain-route error `{code: <status>, message, reason: <wrenn code>}`: its reason, else the status's code. */
  static httpError(status: number, body: string): WrennError {
    let message = body;
    let reason: unknown;
    try {
      const parsed = JSON.parse(body) as { message?: string; reason?: unknown };
      message = parsed.message ?? body;
      reason = parsed.reason;
    } catch {
      // not JSON: keep the text
    }
    return new WrennError(isErrorCode(reason) ? reason : codeOfHttpStatus(status), message || `envd answered HTTP ${status}`);
  }

  async health(signal?: AbortSignal): Promise<boolean> {
    try {
      const res = await this.request('GET', '/health', { signal });
      res.resume();
      return res.statusCode === 200;
    } catch {
      return false;
    }
  }

  /** Polls /health until it answers (envd is starting) or the deadline passes. */
  async waitHealthy(timeoutMs: number, signal?: AbortSignal): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let delay = 2;
    while (Date.now() < deadline) {
      if (signal?.aborted) throw new WrennError('canceled', 'cancelled while waiting for envd');
      if (await this.health(signal)) return;
      await sleep(delay, signal);
      delay = Math.min(delay * 2, 50);
    }
    throw new WrennError('deadline_exceeded', `envd did not become healthy within ${timeoutMs} ms`);
  }

  async init(body: EnvdInit, signal?: AbortSignal): Promise<void> {
    await this.json('POST', '/init', body, signal);
    if (body.accessToken !== undefined) this.accessToken = body.accessToken || undefined;
  }

  async prepareSnapshot(signal?: AbortSignal): Promise<void> {
    await this.json('POST', '/snapshot/prepare', {}, signal);
  }

  async metrics(signal?: AbortSignal): Promise<Record<string, number>> {
    return (await this.json<Record<string, number>>('GET', '/metrics', undefined, signal)) ?? {};
  }

  selector(sel: ProcessSelector): { selector: { case: 'pid'; value: number } | { case: 'tag'; value: string } } {
    if (sel.pid !== undefined) return { selector: { case: 'pid', value: sel.pid } };
    if (sel.tag) return { selector: { case: 'tag', value: sel.tag } };
    throw new WrennError('invalid_argument', 'a process is selected by pid or tag');
  }

  async kill(sel: ProcessSelector, signal: 'SIGTERM' | 'SIGKILL', user?: string): Promise<void> {
    await this.process.sendSignal(
      { process: this.selector(sel), signal: signal === 'SIGKILL' ? Signal.SIGKILL : Signal.SIGTERM },
      { headers: EnvdClient.userHeaders(user) },
    );
  }

  close(): void {
    this.agent.destroy();
  }
}

export type { ProcessEvent };
