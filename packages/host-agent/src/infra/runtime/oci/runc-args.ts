/**
 * argv for every runc command the driver issues. Pure, so the commands that cannot run on
 * this machine yet (checkpoint/restore need a working CRIU) are still unit-tested.
 */

export interface RuncGlobalOptions {
  /** State directory: `<dataDir>/runc`, so our containers are separate from anything else. */
  root: string;
  /** CRIU binary (or wrapper script) for checkpoint/restore. */
  criuPath?: string;
  /** runc's own log (needed for detached commands, whose stderr is the container's). */
  logFile?: string;
}

export function globalArgs(g: RuncGlobalOptions): string[] {
  return [
    '--root',
    g.root,
    '--log-format',
    'json',
    ...(g.logFile !== undefined ? ['--log', g.logFile] : []),
    ...(g.criuPath !== undefined ? ['--criu', g.criuPath] : []),
  ];
}

export interface RunArgs {
  id: string;
  bundleDir: string;
  pidFile: string;
}

export function runArgs(g: RuncGlobalOptions, a: RunArgs): string[] {
  return [...globalArgs(g), 'run', '--detach', '--pid-file', a.pidFile, '--bundle', a.bundleDir, a.id];
}

export interface CheckpointArgs {
  id: string;
  imageDir: string;
  tcpEstablished?: boolean;
  leaveRunning?: boolean;
}

export function checkpointArgs(g: RuncGlobalOptions, a: CheckpointArgs): string[] {
  return [
    ...globalArgs(g),
    'checkpoint',
    '--image-path',
    a.imageDir,
    ...(a.tcpEstablished ? ['--tcp-established'] : []),
    ...(a.leaveRunning ? ['--leave-running'] : []),
    a.id,
  ];
}

export interface RestoreArgs extends RunArgs {
  imageDir: string;
  /** Where CRIU writes its log and sockets; default the image dir (which must then be private to this restore). */
  workDir?: string;
  tcpEstablished?: boolean;
  lazyPages?: boolean;
}

export function restoreArgs(g: RuncGlobalOptions, a: RestoreArgs): string[] {
  return [
    ...globalArgs(g),
    'restore',
    '--detach',
    '--image-path',
    a.imageDir,
    ...(a.workDir !== undefined ? ['--work-path', a.workDir] : []),
    '--pid-file',
    a.pidFile,
    '--bundle',
    a.bundleDir,
    ...(a.tcpEstablished ? ['--tcp-established'] : []),
    ...(a.lazyPages ? ['--lazy-pages'] : []),
    a.id,
  ];
}

export function stateArgs(g: RuncGlobalOptions, id: string): string[] {
  return [...globalArgs(g), 'state', id];
}

export function killArgs(g: RuncGlobalOptions, id: string, signal: string, all: boolean): string[] {
  return [...globalArgs(g), 'kill', ...(all ? ['--all'] : []), id, signal];
}

export function deleteArgs(g: RuncGlobalOptions, id: string, force: boolean): string[] {
  return [...globalArgs(g), 'delete', ...(force ? ['--force'] : []), id];
}

export function pauseArgs(g: RuncGlobalOptions, id: string): string[] {
  return [...globalArgs(g), 'pause', id];
}

export function resumeArgs(g: RuncGlobalOptions, id: string): string[] {
  return [...globalArgs(g), 'resume', id];
}

export function listArgs(g: RuncGlobalOptions): string[] {
  return [...globalArgs(g), 'list', '--format', 'json'];
}

export interface UpdateArgs {
  cpuQuotaUs: number;
  cpuPeriodUs: number;
  memoryBytes: number;
  /** memory+swap; equal to memoryBytes means no swap. Omitted where the host has no swap accounting. */
  memorySwapBytes?: number;
  pidsLimit: number;
}

export function updateArgs(g: RuncGlobalOptions, id: string, a: UpdateArgs): string[] {
  return [
    ...globalArgs(g),
    'update',
    '--cpu-period',
    String(a.cpuPeriodUs),
    '--cpu-quota',
    String(a.cpuQuotaUs),
    '--memory',
    String(a.memoryBytes),
    ...(a.memorySwapBytes !== undefined ? ['--memory-swap', String(a.memorySwapBytes)] : []),
    '--pids-limit',
    String(a.pidsLimit),
    id,
  ];
}
