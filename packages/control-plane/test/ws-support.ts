/**
 * Helpers for the WebSocket route tests: a `ws` client that records every server message,
 * and capsules made straight through the agent plus a DB row (the REST create route is
 * tested elsewhere; these tests need only a running capsule of a team).
 */
import WebSocket from 'ws';
import { newId } from '../src/domain/ids.js';
import type { CapsuleStatus } from '../src/db/schema.js';
import type { TestControlPlane } from './harness.js';

export type ServerMessage = { type: string; [k: string]: any };

export class WsClient {
  readonly messages: ServerMessage[] = [];
  readonly closed: Promise<{ code: number; reason: string }>;
  private listeners: Array<() => void> = [];

  private constructor(readonly socket: WebSocket) {
    socket.on('message', (data) => {
      this.messages.push(JSON.parse(data.toString()));
      for (const l of this.listeners.splice(0)) l();
    });
    this.closed = new Promise((resolve) => socket.on('close', (code, reason) => {
      resolve({ code, reason: reason.toString() });
      for (const l of this.listeners.splice(0)) l();
    }));
  }

  /** Opens a WebSocket to `path` (e.g. /v1/capsules/cl-x/pty); `auth` is sent as a header. */
  static open(t: TestControlPlane, path: string, auth?: string): Promise<WsClient> {
    const headers: Record<string, string> = {};
    if (auth?.startsWith('wrn_')) headers['x-api-key'] = auth;
    else if (auth) headers.authorization = `Bearer ${auth}`;
    const socket = new WebSocket(`ws://127.0.0.1:${t.port}${path}`, { headers });
    const client = new WsClient(socket);
    return new Promise((resolve, reject) => {
      socket.once('open', () => resolve(client));
      socket.once('unexpected-response', (_req, res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => reject(Object.assign(new Error(`handshake refused: ${res.statusCode} ${body}`), { status: res.statusCode, body })));
      });
      socket.once('error', reject);
    });
  }

  send(message: object): void {
    this.socket.send(JSON.stringify(message));
  }

  /** Waits for the first message (from index `from`) matching `pred`. */
  async waitFor(pred: (m: ServerMessage) => boolean, timeoutMs = 15_000, from = 0): Promise<ServerMessage> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.messages.slice(from).find(pred);
      if (found) return found;
      if (this.socket.readyState === WebSocket.CLOSED) throw new Error(`socket closed before the expected message; got ${JSON.stringify(this.messages.slice(-5))}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for a message; last: ${JSON.stringify(this.messages.slice(-5))}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.listeners.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** Decoded terminal output so far (from message index `from`). */
  ptyOutput(from = 0): string {
    return this.messages
      .slice(from)
      .filter((m) => m.type === 'output')
      .map((m) => Buffer.from(m.data, 'base64').toString('utf8'))
      .join('');
  }

  /** Waits until the terminal output contains `needle`. */
  async waitForOutput(needle: string | RegExp, timeoutMs = 15_000, from = 0): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    const has = () => (typeof needle === 'string' ? this.ptyOutput(from).includes(needle) : needle.test(this.ptyOutput(from)));
    while (!has()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${needle} in terminal output: ${JSON.stringify(this.ptyOutput(from).slice(-500))}`);
      await this.waitFor(() => has(), Math.max(1, deadline - Date.now()), from).catch(() => {});
    }
    return this.ptyOutput(from);
  }

  /** Text of stdout or stderr messages (base64 payloads decoded). */
  streamText(type: 'stdout' | 'stderr'): string {
    return this.messages
      .filter((m) => m.type === type)
      .map((m) => (m.encoding === 'base64' ? Buffer.from(m.data, 'base64').toString('utf8') : m.data))
      .join('');
  }

  close(): void {
    this.socket.close();
  }
}

/** Inserts a capsule row of the team (no agent call); `id` and `hostId` default to a new id and the test host. */
export async function insertCapsuleRow(
  t: TestControlPlane,
  teamId: string,
  opts: { status?: CapsuleStatus; id?: string; hostId?: string } = {},
): Promise<string> {
  const id = opts.id ?? newId('cl');
  await t.cp.ctx.db
    .insertInto('capsules')
    .values({
      id,
      team_id: teamId,
      host_id: opts.hostId ?? t.hostId ?? null,
      template: 'minimal',
      status: opts.status ?? 'running',
      vcpus: 1,
      memory_mb: 512,
      disk_size_mb: 0,
      timeout_sec: 0,
      metadata: JSON.stringify({}),
    })
    .execute();
  return id;
}

/** A running capsule of the team: a DB row plus a real capsule of the same id on the test agent. */
export async function createRunningCapsule(t: TestControlPlane, teamId: string): Promise<string> {
  const id = await insertCapsuleRow(t, teamId);
  const res = await t.agent!.client.create({ capsuleId: id, template: 'minimal', vcpus: 1, memoryMb: 512 });
  await t.cp.ctx.db.updateTable('capsules').set({ address: res.capsule?.address ?? null, envd_token: res.envdAccessToken || null }).where('id', '=', id).execute();
  return id;
}

export function b64(text: string): string {
  return Buffer.from(text, 'utf8').toString('base64');
}
