/**
 * A JSON-message WebSocket to the API: authenticated on the upgrade request (same headers
 * as REST), refused upgrades turned into WrennApiError (status and code from the body),
 * messages parsed once, and a `closed` promise that always settles.
 */
import type WebSocket from 'ws';
import type { IncomingMessage } from 'node:http';
import { WrennApiError, errorFromBody } from '../errors.js';
import type { CallOptions, Transport } from '../http.js';

export type Message = { type: string; [field: string]: unknown };

export interface SocketClose {
  code: number;
  reason: string;
}

export class JsonSocket {
  private handler: ((m: Message) => void) | undefined;
  /** Messages that arrive before the owner subscribes (same tick as the open) are kept. */
  private early: Message[] = [];
  readonly closed: Promise<SocketClose>;

  private constructor(readonly ws: WebSocket) {
    this.closed = new Promise((resolve) => ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })));
    ws.on('message', (data, isBinary) => {
      if (isBinary) return;
      let m: Message;
      try {
        m = JSON.parse(data.toString()) as Message;
      } catch {
        return; // not ours: the protocol is JSON text frames only
      }
      if (!m || typeof m.type !== 'string') return;
      if (this.handler) this.handler(m);
      else this.early.push(m);
    });
    // Errors after the open are followed by 'close'; the listener keeps them from being thrown.
    ws.on('error', () => {});
  }

  static async open(http: Transport, path: string, opts: CallOptions = {}): Promise<JsonSocket> {
    const url = http.url(path).replace(/^http/, 'ws');
    // Loaded on the first socket: REST-only programs never load ws.
    const { default: WebSocketClient } = await import('ws');
    return new Promise((resolve, reject) => {
      if (opts.signal?.aborted) return reject(opts.signal.reason);
      const ws = new WebSocketClient(url, { headers: http.authHeaders(), perMessageDeflate: false, ...(opts.timeoutMs ? { handshakeTimeout: opts.timeoutMs } : {}) });
      const onAbort = () => {
        ws.terminate();
        reject(opts.signal!.reason);
      };
      opts.signal?.addEventListener('abort', onAbort, { once: true });
      const done = () => opts.signal?.removeEventListener('abort', onAbort);
      ws.once('unexpected-response', (_req, res: IncomingMessage) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          done();
          ws.terminate();
          reject(errorFromBody(res.statusCode ?? 0, Buffer.concat(chunks).toString('utf8'), res.headers['x-request-id'] as string | undefined, `WebSocket ${path}`));
        });
      });
      ws.once('error', (err) => {
        done();
        reject(new WrennApiError(0, 'unavailable', `cannot open a WebSocket to ${url}: ${err.message}`, undefined, undefined, { cause: err }));
      });
      ws.once('open', () => {
        done();
        resolve(new JsonSocket(ws));
      });
    });
  }

  onMessage(handler: (m: Message) => void): void {
    this.handler = handler;
    const early = this.early;
    this.early = [];
    for (const m of early) handler(m);
  }

  get open(): boolean {
    return this.ws.readyState === this.ws.OPEN;
  }

  send(m: Message): void {
    if (this.ws.readyState !== this.ws.OPEN) throw new WrennApiError(0, 'unavailable', 'the WebSocket is closed: reconnect first');
    this.ws.send(JSON.stringify(m));
  }

  close(code = 1000, reason = ''): void {
    if (this.ws.readyState === this.ws.CONNECTING || this.ws.readyState === this.ws.OPEN) this.ws.close(code, reason);
  }
}

/** HTTP status of a WebSocket error's published code (the status REST answers the same error with). */
function statusOfCode(code: string): number {
  const known: Record<string, number> = {
    invalid_request: 400,
    unauthorized: 401,
    forbidden: 403,
    not_found: 404,
    invalid_state: 409,
    conflict: 409,
    host_has_sandboxes: 409,
    host_unavailable: 503,
    agent_error: 502,
    internal_error: 500,
  };
  return known[code] ?? 0;
}

/** Server `{type:"error",code,reason,message}` → WrennApiError with the status REST would give. */
export function streamError(m: Message, what: string): WrennApiError {
  const code = typeof m.code === 'string' ? m.code : 'stream_error';
  const reason = typeof m.reason === 'string' ? m.reason : code;
  return new WrennApiError(statusOfCode(code), code, `${what}: ${typeof m.message === 'string' ? m.message : 'unknown error'}`, undefined, undefined, { reason });
}
