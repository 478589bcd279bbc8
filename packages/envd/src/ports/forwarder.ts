/**
 * One TCP forwarder: listens on the capsule's external address and pipes every
 * connection to the same port on loopback. It owns its listening socket and every
 * connection it made; close() releases all of them.
 */
import { once } from 'node:events';
import { createServer, connect, type Server, type Socket } from 'node:net';

export class TcpForwarder {
  private readonly server: Server;
  /** Both ends of every forwarded connection. */
  private readonly sockets = new Set<Socket>();
  private clients = 0;

  constructor(
    readonly listenAddress: string,
    readonly port: number,
    readonly targetAddress: string,
  ) {
    // Half-open on both sides so a client's FIN reaches the service and its reply still flows back.
    this.server = createServer({ allowHalfOpen: true }, (client) => this.forward(client));
  }

  /** Open client connections. */
  get connections(): number {
    return this.clients;
  }

  listen(): Promise<void> {
    return new Promise((resolve, reject) => {
      const onError = (err: Error) => reject(err);
      this.server.once('error', onError);
      this.server.listen({ host: this.listenAddress, port: this.port, exclusive: true }, () => {
        this.server.off('error', onError);
        resolve();
      });
    });
  }

  private track(socket: Socket): void {
    this.sockets.add(socket);
    socket.once('close', () => this.sockets.delete(socket));
  }

  private forward(client: Socket): void {
    this.clients++;
    client.once('close', () => this.clients--);
    const upstream = connect({ host: this.targetAddress, port: this.port, allowHalfOpen: true });
    this.track(client);
    this.track(upstream);
    // An error on either side ends the pair; a clean end travels through pipe() as FIN.
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
    client.once('close', () => upstream.end());
    upstream.once('close', () => client.end());
    client.pipe(upstream);
    upstream.pipe(client);
  }

  /** Stops listening and destroys every forwarded connection; resolves once all are closed. */
  async close(): Promise<void> {
    const closing = [...this.sockets].filter((s) => !s.closed).map((s) => once(s, 'close'));
    for (const s of this.sockets) s.destroy();
    const serverClosed = new Promise<void>((resolve) => {
      if (!this.server.listening) return resolve();
      this.server.close(() => resolve());
    });
    await Promise.all([serverClosed, ...closing]);
  }
}
