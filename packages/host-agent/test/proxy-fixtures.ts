/**
 * A tiny HTTP/1.1 + WebSocket server to run inside capsules (python3, standard library
 * only), and a raw WebSocket client for the host side, shared by the agent's and the
 * control plane's proxy tests and the proxy benchmark.
 *
 * Server paths: `/hello` (names the Host header it got), `/slow?ms=N`, `/hang` (never
 * answers), `/big?bytes=N`, `POST /echo` (the body back), and any GET with
 * `Upgrade: websocket` (a WebSocket that echoes every frame).
 */
import { randomBytes, createHash } from 'node:crypto';
import { connect, type Socket } from 'node:net';

export const PROXY_TEST_SERVER_PY = String.raw`
import base64, hashlib, struct, sys, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11'
CHUNK = b'x' * 65536
class H(BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'
    # Headers and body go out in two writes: with Nagle on, the body would wait for the
    # delayed ACK of the headers (40 ms) on a reused connection.
    disable_nagle_algorithm = True
    def log_message(self, *a): pass
    def reply(self, code, body, ctype='text/plain'):
        b = body if isinstance(body, bytes) else body.encode()
        self.send_response(code)
        self.send_header('Content-Type', ctype)
        self.send_header('Content-Length', str(len(b)))
        self.end_headers()
        self.wfile.write(b)
    def do_GET(self):
        path, _, q = self.path.partition('?')
        arg = int(q.split('=')[1]) if '=' in q else 0
        if self.headers.get('Upgrade', '').lower() == 'websocket': return self.websocket()
        if path == '/hello': return self.reply(200, 'hello from the capsule; host=' + str(self.headers.get('Host')))
        if path == '/slow':
            time.sleep(arg / 1000)
            return self.reply(200, 'slow done')
        if path == '/hang':
            time.sleep(3600)
        if path == '/big':
            self.send_response(200)
            self.send_header('Content-Length', str(arg))
            self.end_headers()
            left = arg
            while left > 0:
                n = min(left, len(CHUNK))
                self.wfile.write(CHUNK[:n])
                left -= n
            return
        self.reply(404, 'no such path')
    def do_POST(self):
        n = int(self.headers.get('Content-Length', '0'))
        self.reply(200, self.rfile.read(n), 'application/octet-stream')
    def websocket(self):
        accept = base64.b64encode(hashlib.sha1((self.headers['Sec-WebSocket-Key'] + GUID).encode()).digest()).decode()
        self.send_response(101)
        self.send_header('Upgrade', 'websocket')
        self.send_header('Connection', 'Upgrade')
        self.send_header('Sec-WebSocket-Accept', accept)
        self.end_headers()
        self.wfile.flush()
        r, w = self.rfile, self.connection
        while True:
            h = r.read(2)
            if len(h) < 2: return
            op, n = h[0] & 15, h[1] & 127
            if n == 126: n = struct.unpack('>H', r.read(2))[0]
            elif n == 127: n = struct.unpack('>Q', r.read(8))[0]
            mask = r.read(4) if h[1] & 128 else b''
            data = r.read(n)
            if mask: data = bytes(b ^ mask[i % 4] for i, b in enumerate(data))
            if op == 8:
                w.sendall(b'\x88\x00')
                return
            size = bytes([len(data)]) if len(data) < 126 else (b'\x7e' + struct.pack('>H', len(data)) if len(data) < 65536 else b'\x7f' + struct.pack('>Q', len(data)))
            w.sendall(bytes([0x80 | op]) + size + data)
ThreadingHTTPServer(('0.0.0.0', int(sys.argv[1])), H).serve_forever()
`;

/** A WebSocket opened on a raw TCP connection (no library: the test sees every byte). */
export interface RawWebSocket {
  socket: Socket;
  /** The handshake answer's status line, e.g. `HTTP/1.1 101 Switching Protocols`. */
  statusLine: string;
  /** Everything of the answer up to the blank line. */
  responseHead: string;
  /** Bytes after the handshake answer not yet read as frames. */
  rest: Buffer;
}

/** Sends an Upgrade request and reads the answer's head (any status). */
export function openRawWebSocket(host: string, port: number, path: string, headers: Record<string, string> = {}, timeoutMs = 10_000): Promise<RawWebSocket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port });
    const key = randomBytes(16).toString('base64');
    let buf = Buffer.alloc(0);
    const timer = setTimeout(() => fail(new Error(`no handshake answer within ${timeoutMs} ms`)), timeoutMs);
    const fail = (err: Error) => {
      clearTimeout(timer);
      socket.destroy();
      reject(err);
    };
    socket.once('error', fail);
    socket.once('connect', () => {
      const lines = [`GET ${path} HTTP/1.1`, `Host: ${headers.Host ?? `${host}:${port}`}`, 'Connection: Upgrade', 'Upgrade: websocket', `Sec-WebSocket-Key: ${key}`, 'Sec-WebSocket-Version: 13'];
      for (const [k, v] of Object.entries(headers)) if (k !== 'Host') lines.push(`${k}: ${v}`);
      socket.write(`${lines.join('\r\n')}\r\n\r\n`);
    });
    const onData = (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('error', fail);
      socket.pause();
      const responseHead = buf.subarray(0, end).toString();
      const accept = createHash('sha1').update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
      if (responseHead.startsWith('HTTP/1.1 101') && !responseHead.includes(accept)) return fail(new Error(`wrong Sec-WebSocket-Accept in ${responseHead}`));
      resolve({ socket, statusLine: responseHead.split('\r\n')[0]!, responseHead, rest: buf.subarray(end + 4) });
    };
    socket.on('data', onData);
  });
}

/** Sends one masked text frame (as a client must). */
export function sendTextFrame(ws: RawWebSocket, text: string): void {
  const data = Buffer.from(text);
  const mask = randomBytes(4);
  const size = data.length < 126 ? Buffer.from([0x80 | data.length]) : Buffer.concat([Buffer.from([0x80 | 126]), Buffer.from([data.length >> 8, data.length & 255])]);
  const masked = Buffer.from(data.map((b, i) => b ^ mask[i % 4]!));
  ws.socket.write(Buffer.concat([Buffer.from([0x81]), size, mask, masked]));
}

/** Reads one (unmasked, server) frame's payload as text; rejects if the connection closes first. */
export function readTextFrame(ws: RawWebSocket, timeoutMs = 10_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => done(new Error(`no frame within ${timeoutMs} ms`)), timeoutMs);
    const tryParse = (): boolean => {
      const b = ws.rest;
      if (b.length < 2) return false;
      let n = b[1]! & 127;
      let off = 2;
      if (n === 126) {
        if (b.length < 4) return false;
        n = b.readUInt16BE(2);
        off = 4;
      }
      if (b.length < off + n) return false;
      ws.rest = b.subarray(off + n);
      done(undefined, b.subarray(off, off + n).toString());
      return true;
    };
    const onData = (d: Buffer) => {
      ws.rest = Buffer.concat([ws.rest, d]);
      tryParse();
    };
    const onClose = () => done(new Error('connection closed before a frame arrived'));
    const done = (err?: Error, text?: string) => {
      clearTimeout(timer);
      ws.socket.off('data', onData);
      ws.socket.off('close', onClose);
      ws.socket.pause();
      if (err) reject(err);
      else resolve(text!);
    };
    if (tryParse()) return;
    ws.socket.on('data', onData);
    ws.socket.once('close', onClose);
    ws.socket.resume();
  });
}

/** Resolves once the socket is closed (by either side). */
export function closedSocket(socket: Socket): Promise<void> {
  if (socket.destroyed) return Promise.resolve();
  return new Promise((resolve) => {
    socket.once('close', () => resolve());
    socket.resume();
  });
}
