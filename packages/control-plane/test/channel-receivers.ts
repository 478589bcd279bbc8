/**
 * Receivers for notification tests: one HTTP server on 127.0.0.1 per provider, each checking
 * the request format that provider's real endpoint accepts (method, path, content type, JSON
 * fields) and answering 400 to anything else, as the real one would. A receiver can be told
 * to fail its next answers (`failNext`) to exercise retries.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Received {
  method: string;
  path: string;
  headers: IncomingMessage['headers'];
  raw: string;
  body: any;
  /** What the format check found wrong ('' when the request is what the provider accepts). */
  problem: string;
}

export type FormatCheck = (r: Omit<Received, 'problem'>) => string;

export class Receiver {
  readonly got: Received[] = [];
  private server!: Server;
  private failures: number[] = [];
  private waiters: Array<() => void> = [];
  url = '';

  constructor(private readonly check: FormatCheck) {}

  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const raw = Buffer.concat(chunks).toString('utf8');
        let body: unknown;
        try {
          body = JSON.parse(raw);
        } catch {
          body = undefined;
        }
        const base = { method: req.method ?? '', path: req.url ?? '', headers: req.headers, raw, body };
        const problem = this.check(base);
        this.got.push({ ...base, problem });
        const fail = this.failures.shift();
        res.statusCode = problem ? 400 : (fail ?? 200);
        res.setHeader('content-type', 'application/json');
        res.end(problem ? JSON.stringify({ error: problem }) : fail ? '{"error":"try again"}' : '{"ok":true}');
        for (const w of this.waiters.splice(0)) w();
      });
    });
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  /** The next `n` well-formed requests are answered with `status`. */
  failNext(n: number, status = 500): void {
    for (let i = 0; i < n; i++) this.failures.push(status);
  }

  /** Resolves with the received requests once `pred` holds for them (or rejects after `timeoutMs`). */
  async waitFor(pred: (got: Received[]) => boolean, timeoutMs = 20_000): Promise<Received[]> {
    const deadline = Date.now() + timeoutMs;
    while (!pred(this.got)) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`receiver ${this.url}: condition not met within ${timeoutMs} ms; got ${JSON.stringify(this.got.map((g) => [g.method, g.path, g.body?.event ?? g.body]))}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    return this.got;
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.server.closeAllConnections();
      this.server.close(() => resolve());
    });
  }
}

const isJson = (r: { headers: IncomingMessage['headers'] }) => /^application\/json\b/.test(r.headers['content-type'] ?? '');
const str = (v: unknown) => typeof v === 'string' && v.length > 0;
const keysOnly = (o: Record<string, unknown>, allowed: string[]) => Object.keys(o).every((k) => allowed.includes(k));

/** Each provider's format, as its documentation describes what its endpoint accepts. */
export const FORMATS: Record<string, (path: string) => FormatCheck> = {
  // Slack incoming webhook: POST JSON with `text` (blocks etc. optional).
  slack: (path) => (r) => (r.method !== 'POST' || r.path !== path ? 'wrong method or path' : !isJson(r) ? 'not JSON' : !str(r.body?.text) ? 'no text' : ''),
  // Discord webhook: POST JSON with `content` (≤2000 chars) and/or `embeds` (≤10, each with title/description).
  discord: (path) => (r) =>
    r.method !== 'POST' || r.path !== path
      ? 'wrong method or path'
      : !isJson(r)
        ? 'not JSON'
        : !str(r.body?.content) || r.body.content.length > 2000
          ? 'no content'
          : !Array.isArray(r.body.embeds) || r.body.embeds.length > 10 || !r.body.embeds.every((e: any) => str(e.title) && typeof e.description === 'string')
            ? 'bad embeds'
            : '',
  // Teams connector: a MessageCard with @type, @context and summary or text.
  teams: (path) => (r) =>
    r.method !== 'POST' || r.path !== path
      ? 'wrong method or path'
      : !isJson(r)
        ? 'not JSON'
        : r.body?.['@type'] !== 'MessageCard' || r.body?.['@context'] !== 'https://schema.org/extensions' || !str(r.body?.text) || !str(r.body?.summary)
          ? 'not a MessageCard'
          : '',
  // Google Chat incoming webhook: POST JSON {text}.
  googlechat: (path) => (r) => (r.method !== 'POST' || r.path !== path ? 'wrong method or path' : !isJson(r) ? 'not JSON' : !str(r.body?.text) || !keysOnly(r.body, ['text', 'cards', 'cardsV2', 'thread']) ? 'no text' : ''),
  // Telegram Bot API: POST /bot<token>/sendMessage with chat_id and text.
  telegram: (path) => (r) =>
    r.method !== 'POST' || r.path !== path ? `wrong method or path ${r.method} ${r.path}` : !isJson(r) ? 'not JSON' : !str(String(r.body?.chat_id ?? '')) || !str(r.body?.text) ? 'no chat_id or text' : '',
  // Matrix client-server API: PUT /_matrix/client/v3/rooms/{roomId}/send/m.room.message/{txnId}, bearer token, {msgtype, body}.
  matrix: (prefix) => (r) => {
    const m = /^(.*)\/_matrix\/client\/v3\/rooms\/([^/]+)\/send\/m\.room\.message\/([^/]+)$/.exec(r.path);
    if (r.method !== 'PUT' || !m || m[1] !== prefix) return `wrong method or path ${r.method} ${r.path}`;
    if (!/^Bearer .+/.test(r.headers.authorization ?? '')) return 'no bearer token';
    if (!isJson(r) || r.body?.msgtype !== 'm.text' || !str(r.body?.body)) return 'not an m.text message';
    return '';
  },
  webhook: (path) => (r) => (r.method !== 'POST' || r.path !== path ? 'wrong method or path' : !isJson(r) ? 'not JSON' : ''),
};
