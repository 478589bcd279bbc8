/**
 * Tracks envd's open client connections so /snapshot/prepare can close the idle ones and
 * the /init after a restore can close those opened before the snapshot (docs/decisions.md#e3): their peers
 * are gone, and a restored socket would otherwise hang until its keep-alive expires.
 */
import type { Server } from 'node:http';
import type { Socket } from 'node:net';

export class ConnectionTracker {
  private epoch = 0;
  private readonly sockets = new Map<Socket, number>();

  attach(server: Server): void {
    server.on('connection', (socket: Socket) => {
      this.sockets.set(socket, this.epoch);
      socket.once('close', () => this.sockets.delete(socket));
    });
  }

  /** Starts a new epoch: connections opened from now on are "after the snapshot". */
  advance(): number {
    return ++this.epoch;
  }

  get current(): number {
    return this.epoch;
  }

  get size(): number {
    return this.sockets.size;
  }

  /** Destroys every connection opened in an epoch before `epoch`, except `keep`. */
  closeOpenedBefore(epoch: number, keep?: Socket): number {
    let closed = 0;
    for (const [socket, e] of this.sockets) {
      if (e < epoch && socket !== keep) {
        socket.destroy();
        closed++;
      }
    }
    return closed;
  }
}
