/**
 * A background part of envd that /snapshot/prepare stops and /init starts again (docs/decisions.md#e3, #e5).
 * start() and stop() must be callable any number of times, in any order, without leaking
 * timers, sockets, watchers or child processes.
 */
export interface Subsystem {
  readonly name: string;
  readonly running: boolean;
  start(): void;
  stop(): Promise<void>;
}
