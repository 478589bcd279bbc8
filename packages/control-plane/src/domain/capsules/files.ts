/**
 * Files of a running capsule, through the agent's WriteFile (client stream) and ReadFile
 * (server stream): bytes flow through in chunks with back-pressure, never held whole, so
 * a file of any size costs the control plane a few chunks of memory.
 */
import { WrennError } from '@wrenn/shared';
import type { ControlPlaneContext } from '../../context.js';
import { renameAlreadyExists, renameNotFound } from './agent-errors.js';
import { usableCapsule } from './pause.js';

/** A directory entry as Wrenn's API shows it (`modified_at`: Unix seconds, 0 when unknown). */
export interface FileEntry {
  name: string;
  path: string;
  type: 'file' | 'directory' | 'symlink';
  size: number;
  mode: number;
  permissions: string;
  owner: string;
  group: string;
  modified_at: number;
  symlink_target: string | null;
}

const ENTRY_TYPES: Record<string, FileEntry['type']> = { file: 'file', dir: 'directory', symlink: 'symlink' };

interface AgentEntry {
  name: string;
  path: string;
  type: string;
  size: bigint;
  mode: number;
  permissions: string;
  owner: string;
  group: string;
  symlinkTarget?: string;
  modifiedAtMs: bigint;
}

function entryOf(e: AgentEntry): FileEntry {
  return {
    name: e.name,
    path: e.path,
    type: ENTRY_TYPES[e.type] ?? 'file',
    size: Number(e.size),
    mode: e.mode,
    permissions: e.permissions,
    owner: e.owner,
    group: e.group,
    modified_at: Math.floor(Number(e.modifiedAtMs) / 1000),
    symlink_target: e.symlinkTarget ?? null,
  };
}

function missing(err: unknown, capsuleId: string, path: string): unknown {
  return renameNotFound(err, 'file_not_found', `path ${JSON.stringify(path)} does not exist in capsule ${capsuleId}`, { capsuleId, path });
}

/**
 * Bytes per WriteFile message. Socket reads arrive in 16-64 KB pieces; gathering them into
 * larger messages cuts the per-message work (framing, encoding, allocations) on both ends.
 */
const MESSAGE_BYTES = 1024 * 1024;

async function* writeMessages(capsuleId: string, path: string, body: AsyncIterable<Uint8Array>) {
  yield { part: { case: 'header' as const, value: { capsuleId, path } } };
  let pending: Uint8Array[] = [];
  let pendingBytes = 0;
  const flush = () => {
    const chunk = pending.length === 1 ? pending[0]! : Buffer.concat(pending, pendingBytes);
    pending = [];
    pendingBytes = 0;
    return { part: { case: 'chunk' as const, value: chunk } };
  };
  for await (const piece of body) {
    for (let off = 0; off < piece.length; ) {
      const take = Math.min(piece.length - off, MESSAGE_BYTES - pendingBytes);
      pending.push(off === 0 && take === piece.length ? piece : piece.subarray(off, off + take));
      pendingBytes += take;
      off += take;
      if (pendingBytes >= MESSAGE_BYTES) yield flush();
    }
  }
  if (pendingBytes > 0) yield flush();
}

/** Streams `body` into `path` (created or replaced); resolves with the bytes written. */
export async function writeFile(
  ctx: ControlPlaneContext,
  teamId: string,
  capsuleId: string,
  path: string,
  body: AsyncIterable<Uint8Array>,
  signal?: AbortSignal,
): Promise<{ path: string; size: number }> {
  const { agent } = await usableCapsule(ctx, teamId, capsuleId, 'write a file');
  const release = ctx.activity.hold(capsuleId); // no auto-pause mid-transfer
  try {
    const res = await agent.writeFile(writeMessages(capsuleId, path, body), { timeoutMs: ctx.config.agentTimeoutMs, ...(signal ? { signal } : {}) });
    return { path: res.path, size: Number(res.size) };
  } catch (err) {
    throw missing(err, capsuleId, path);
  } finally {
    release();
  }
}

/**
 * Opens `path` for reading. The first chunk is fetched before this resolves, so a missing
 * file is an error the caller can still answer with a 404; the rest streams on demand.
 */
export async function readFile(ctx: ControlPlaneContext, teamId: string, capsuleId: string, path: string, signal?: AbortSignal): Promise<AsyncIterable<Uint8Array>> {
  const { agent } = await usableCapsule(ctx, teamId, capsuleId, 'read a file');
  // No auto-pause mid-transfer: held until the stream ends or the client goes away
  // (a generator never iterated never runs its `finally`, hence the signal too).
  const release = ctx.activity.hold(capsuleId);
  signal?.addEventListener('abort', release, { once: true });
  const stream = agent.readFile({ capsuleId, path }, { timeoutMs: ctx.config.agentTimeoutMs, ...(signal ? { signal } : {}) });
  const it = stream[Symbol.asyncIterator]();
  let first: IteratorResult<{ chunk: Uint8Array }>;
  try {
    first = await it.next();
  } catch (err) {
    release();
    throw missing(err, capsuleId, path);
  }
  return (async function* () {
    try {
      if (first.done) return;
      yield first.value.chunk;
      for (let r = await it.next(); !r.done; r = await it.next()) yield r.value.chunk;
    } finally {
      release();
      // The consumer went away early (client disconnected): end the agent stream too.
      await it.return?.();
    }
  })();
}

async function fsCall<T>(capsuleId: string, path: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    throw missing(err, capsuleId, path);
  }
}

export async function listDir(ctx: ControlPlaneContext, teamId: string, capsuleId: string, path: string, depth: number): Promise<FileEntry[]> {
  const { agent } = await usableCapsule(ctx, teamId, capsuleId, 'list files');
  const res = await fsCall(capsuleId, path, () => agent.listDir({ capsuleId, path, depth }, { timeoutMs: 60_000 }));
  return res.entries.map(entryOf);
}

export async function makeDir(ctx: ControlPlaneContext, teamId: string, capsuleId: string, path: string): Promise<FileEntry> {
  const { agent } = await usableCapsule(ctx, teamId, capsuleId, 'create a directory');
  let res;
  try {
    res = await agent.makeDir({ capsuleId, path }, { timeoutMs: 60_000 });
  } catch (err) {
    throw renameAlreadyExists(missing(err, capsuleId, path), `path ${JSON.stringify(path)} already exists in capsule ${capsuleId}`, { capsuleId, path });
  }
  if (!res.entry) throw new WrennError('internal', `the host agent created ${path} but did not describe it`);
  return entryOf(res.entry);
}

export async function removePath(ctx: ControlPlaneContext, teamId: string, capsuleId: string, path: string): Promise<void> {
  const { agent } = await usableCapsule(ctx, teamId, capsuleId, 'remove a file');
  await fsCall(capsuleId, path, () => agent.removePath({ capsuleId, path }, { timeoutMs: 60_000 }));
}
