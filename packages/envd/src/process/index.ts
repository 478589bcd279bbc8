// STUB: replaced by the process-service work.
import type { ConnectRouter } from '@connectrpc/connect';
import type { EnvdContext } from '../core/context.js';
export class ProcessManager {
  constructor(readonly ctx: EnvdContext) {}
  async killAll(): Promise<void> {}
}
export function registerProcessService(_router: ConnectRouter, _ctx: EnvdContext, _pm: ProcessManager): void {}
