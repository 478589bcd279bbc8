// STUB: replaced by the port-subsystem work.
import type { EnvdContext } from '../core/context.js';
import type { Subsystem } from '../core/subsystem.js';
export class PortSubsystem implements Subsystem {
  readonly name = 'ports';
  running = false;
  constructor(readonly ctx: EnvdContext) {}
  start(): void { this.running = true; }
  async stop(): Promise<void> { this.running = false; }
}
