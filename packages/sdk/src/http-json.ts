/**
 * One JSON request over node:http (https loaded only for an https URL): keep-alive
 * connections, cancellable through a signal, the whole body read as text. Node's own client
 * costs a few milliseconds to load where undici or the first fetch() cost 50-300 ms, which
 * a command line pays at every start; per call it is as cheap as undici's `request`.
 */
import type { Agent, IncomingMessage, RequestOptions, ClientRequest } from 'node:http';

export interface JsonRequest {
  method: string;
  headers: Record<string, string>;
  body?: string;
  signal?: AbortSignal;
}

export interface TextResponse {
  status: number;
  requestId: string | undefined;
  text: string;
}

type Requester = (url: URL, opts: RequestOptions, cb: (res: IncomingMessage) => void) => ClientRequest;
interface Client {
  request: Requester;
  agent: Agent;
}
const clients = new Map<string, Promise<Client>>();

/** Idle keep-alive sockets are unref'd by node's Agent: they never keep a process alive. */
function clientFor(protocol: string): Promise<Client> {
  let c = clients.get(protocol);
  if (!c) {
    c =
      protocol === 'https:'
        ? import('node:https').then((m) => ({ request: m.request as Requester, agent: new m.Agent({ keepAlive: true }) }))
        : import('node:http').then((m) => ({ request: m.request as Requester, agent: new m.Agent({ keepAlive: true }) }));
    clients.set(protocol, c);
  }
  return c;
}

export async function requestText(url: string, req: JsonRequest): Promise<TextResponse> {
  const u = new URL(url);
  const { request, agent } = await clientFor(u.protocol);
  req.signal?.throwIfAborted();
  return new Promise((resolve, reject) => {
    const headers = { ...req.headers };
    if (req.body !== undefined) headers['content-length'] = String(Buffer.byteLength(req.body));
    const cr = request(u, { method: req.method, headers, agent, ...(req.signal ? { signal: req.signal } : {}) }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('aborted', () => reject(new Error('the response was cut short')));
      res.on('end', () => {
        const rid = res.headers['x-request-id'];
        resolve({ status: res.statusCode ?? 0, requestId: typeof rid === 'string' ? rid : undefined, text: Buffer.concat(chunks).toString('utf8') });
      });
    });
    cr.on('error', reject);
    cr.end(req.body);
  });
}
