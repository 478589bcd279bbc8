/**
 * Listen and close for the agent's servers (the RPC server, the port proxy): listen
 * resolves with the port actually bound (0 = any free one), and close does not wait for
 * clients that keep connections open: it cuts every socket the server accepted.
 */
import type { Server, Socket } from 'node:net';

export interface Listener {
  listen(port: number, host: string): Promise<number>;
  /** Stops accepting, cuts every open connection; `beforeCut` runs first (e.g. to end proxied exchanges cleanly). */
  close(beforeCut?: () => void): Promise<void>;
}

export function listener(server: Server): Listener {
  const sockets = new Set<Socket>();
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  });
  return {
    listen: (port, host) =>
      new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => {
          server.off('error', reject);
          const addr = server.address();
          resolve(typeof addr === 'object' && addr ? addr.port : port);
        });
      }),
    close: (beforeCut) =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        beforeCut?.();
        for (const s of sockets) s.destroy();
      }),
  };
}
