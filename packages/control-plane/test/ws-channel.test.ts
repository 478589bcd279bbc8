import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import WebSocket, { WebSocketServer } from 'ws';
import { WrennError } from '@wrenn/shared';
import { WsChannel, type Inbound } from '../src/ws/ws-channel.js';

/** Real sockets on 127.0.0.1: a ws server whose connections are wrapped in WsChannel. */
describe('WsChannel buffers and back-pressure (C3)', () => {
  let server: WebSocketServer;
  let port: number;
  const channels: WsChannel[] = [];
  const clients: WebSocket[] = [];

  before(async () => {
    server = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await new Promise<void>((r) => server.once('listening', r));
    port = (server.address() as { port: number }).port;
    server.on('connection', (socket) => channels.push(new WsChannel(socket, { pingIntervalMs: 60_000 })));
  });
  after(async () => {
    for (const c of clients) c.terminate();
    await new Promise((r) => server.close(r));
  });

  async function pair(): Promise<{ client: WebSocket; channel: WsChannel }> {
    const before = channels.length;
    const client = new WebSocket(`ws://127.0.0.1:${port}`);
    clients.push(client);
    await new Promise((r) => client.once('open', r));
    while (channels.length === before) await new Promise((r) => setTimeout(r, 5));
    return { client, channel: channels[channels.length - 1]! };
  }

  test('a flood of client messages pauses the socket instead of growing without bound, and none is lost', async () => {
    const { client, channel } = await pair();
    const total = 10_000;
    for (let i = 0; i < total; i++) client.send(JSON.stringify({ type: 'input', n: i }));
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(channel.socket.isPaused, true, 'socket paused while the queue is full');
    // At most 256 plus what ws had already parsed from the last socket read (64 KiB of
    // frames of at least 28 bytes: 22 of JSON, 6 of masked frame header).
    const bound = 256 + Math.ceil(65536 / 28);
    assert.ok(channel.queued <= bound, `queued ${channel.queued} > ${bound}`);
    const seen: number[] = [];
    while (seen.length < total) {
      const m = (await channel.next(5000)) as Inbound;
      assert.ok(m && typeof m === 'object' && 'value' in m);
      seen.push(m.value.n as number);
    }
    assert.deepEqual(seen, Array.from({ length: total }, (_, i) => i));
    assert.equal(channel.socket.isPaused, false);
  });

  test('a revoked channel drops what the client queued and ignores what follows; the client gets the error and 4401', async () => {
    const { client, channel } = await pair();
    const closed = new Promise<number>((r) => client.once('close', (code) => r(code)));
    const got: string[] = [];
    client.on('message', (d) => got.push(d.toString()));
    for (let i = 0; i < 50; i++) client.send(JSON.stringify({ type: 'input', n: i }));
    while (channel.queued < 50) await new Promise((r) => setTimeout(r, 5));
    await channel.revoke(new WrennError('unauthenticated', 'credentials revoked'));
    client.send(JSON.stringify({ type: 'input', n: 'late' }));
    assert.equal(await channel.next(200), undefined, 'nothing queued before or sent after the revocation is handed out');
    assert.equal(channel.queued, 0);
    assert.equal(await closed, 4401);
    assert.ok(got.some((m) => JSON.parse(m).reason === 'unauthenticated' && JSON.parse(m).code === 'unauthorized'));
  });

  test('sending to a client that does not read blocks the sender after the buffer fills, then delivers everything', async () => {
    const { client, channel } = await pair();
    const big = 'x'.repeat(64 * 1024);
    let received = 0;
    client.on('message', () => received++);
    client.pause();
    const total = 1000; // 64 MB: far more than 256 messages plus the kernel's socket buffers
    let sent = 0;
    const sender = (async () => {
      for (let i = 0; i < total; i++) {
        await channel.send({ type: 'output', i, data: big });
        sent++;
      }
    })();
    await new Promise((r) => setTimeout(r, 700));
    const stalledAt = sent;
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(sent, stalledAt, 'sender is waiting, not buffering more');
    assert.ok(sent < total, `sent ${sent} of ${total} to a paused client`);
    client.resume();
    await sender;
    while (received < total) await new Promise((r) => setTimeout(r, 10));
    assert.equal(received, total);
  });

  test('messages received before the client closed are still handed out, then next() reports the close', async () => {
    const { client, channel } = await pair();
    client.send(JSON.stringify({ type: 'input', data: 'a' }));
    client.send(JSON.stringify({ type: 'kill' }));
    client.close();
    await new Promise<void>((r) => channel.onClose(r));
    const a = await channel.next();
    const b = await channel.next();
    assert.ok(a && typeof a === 'object' && 'value' in a && a.value.type === 'input');
    assert.ok(b && typeof b === 'object' && 'value' in b && b.value.type === 'kill');
    assert.equal(await channel.next(), undefined);
  });
});
