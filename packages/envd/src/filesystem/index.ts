// STUB: replaced by the filesystem-service work.
import type { ConnectRouter } from '@connectrpc/connect';
import type { EnvdContext } from '../core/context.js';
export class WatcherRegistry {
  constructor(readonly ctx: EnvdContext) {}
  async closeAll(): Promise<void> {}
}
export function registerFilesystemService(_router: ConnectRouter, _ctx: EnvdContext, _w: WatcherRegistry): void {}
