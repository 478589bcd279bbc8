/**
 * Whether a checkpoint must lock the sandbox's network (see runc-criu-config.ts): only when
 * its sockets need it (socket-inventory.ts) or when that cannot be told. The choice is
 * written into the CRIU config file of the sandbox's own bundle before every dump (a dump
 * interrupted by an agent restart may have left the other choice there); a container
 * started by an older agent names the shared default file, never rewritten: it keeps the lock.
 */
import { join } from 'node:path';
import { BUNDLE_CRIU_CONFIG } from '../../criu/runc-criu-config.js';
import { socketsNeedNetwork } from '../../net/socket-inventory.js';
import { readRuncState } from './runc-state.js';

export interface DumpNetwork {
  lock: boolean;
  /** The bundle whose CRIU config file is ours to write; absent: leave the config alone. */
  bundleDir?: string;
}

/** Call with the sandbox frozen: its sockets change no more (bar connections completed into a listen backlog, which no dump keeps). */
export async function dumpNetwork(runcRoot: string, id: string): Promise<DumpNetwork> {
  const saved = await readRuncState(runcRoot, id);
  if (!saved || saved.criuConfig !== join(saved.bundleDir, BUNDLE_CRIU_CONFIG)) return { lock: true };
  return { lock: await socketsNeedNetwork(saved.pid), bundleDir: saved.bundleDir };
}
