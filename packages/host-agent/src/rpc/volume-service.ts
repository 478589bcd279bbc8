/**
 * The volume calls of hostagent.v1.HostAgentService (CreateVolume, DeleteVolume and the
 * content calls), mapped to domain/volumes.ts; merged into the service by service.ts.
 */
import type { HandlerContext } from '@connectrpc/connect';
import { create } from '@bufbuild/protobuf';
import { VolumeEntrySchema, type VolumeEntry, type VolumeWriteFileRequest } from '@wrenn/proto/hostagent';
import { WrennError } from '@wrenn/shared';
import type { Volumes } from '../domain/volumes.js';
import { MAX_VOLUME_LIST_DEPTH, type Ownership, type VolumeEntryInfo } from '../infra/volume/volume-files.js';
import { validateVolumeId } from '../infra/volume/volume-store.js';
import { required } from './convert.js';

const READ_MESSAGE_BYTES = 1024 * 1024;
/** The largest volume a CreateVolume may ask for (1 TiB). */
const MAX_VOLUME_MB = 1024 * 1024;

function entry(e: VolumeEntryInfo): VolumeEntry {
  return create(VolumeEntrySchema, {
    name: e.name,
    path: e.path,
    type: e.type,
    size: BigInt(e.size),
    mode: e.mode,
    uid: e.uid,
    gid: e.gid,
    atimeMs: BigInt(e.atimeMs),
    mtimeMs: BigInt(e.mtimeMs),
    ctimeMs: BigInt(e.ctimeMs),
    ...(e.target !== undefined ? { target: e.target } : {}),
  });
}

function volumeId(id: string): string {
  validateVolumeId(required(id, 'volume_id'));
  return id;
}

function ownership(m: { uid?: number | undefined; gid?: number | undefined; mode?: number | undefined }): Ownership {
  return { uid: m.uid, gid: m.gid, mode: m.mode };
}

export function volumeHandlers(volumes: Volumes | undefined) {
  const v = (): Volumes => {
    if (!volumes) throw new WrennError('not_implemented', 'this host agent has no volume support');
    return volumes;
  };
  return {
    async createVolume(req: { volumeId: string; sizeMb: number }, ctx: HandlerContext) {
      if (req.sizeMb < 64 || req.sizeMb > MAX_VOLUME_MB) throw new WrennError('invalid_argument', `size_mb must be 64-${MAX_VOLUME_MB}, got ${req.sizeMb}`);
      return { sizeBytes: BigInt(await v().create(volumeId(req.volumeId), req.sizeMb, ctx.signal)) };
    },
    async deleteVolume(req: { volumeId: string }) {
      await v().remove(volumeId(req.volumeId));
      return {};
    },
    async volumeStat(req: { volumeId: string; path: string }, ctx: HandlerContext) {
      return entry(await v().content(volumeId(req.volumeId), (f) => f.stat(req.path || '/'), ctx.signal));
    },
    async volumeList(req: { volumeId: string; path: string; depth: number }, ctx: HandlerContext) {
      const depth = Math.min(req.depth || 1, MAX_VOLUME_LIST_DEPTH);
      return { entries: (await v().content(volumeId(req.volumeId), (f) => f.list(req.path || '/', depth), ctx.signal)).map(entry) };
    },
    async volumeMakeDir(req: { volumeId: string; path: string; parents: boolean; uid?: number; gid?: number; mode?: number }, ctx: HandlerContext) {
      return entry(await v().content(volumeId(req.volumeId), (f) => f.makeDir(required(req.path, 'path'), req.parents, ownership(req)), ctx.signal));
    },
    async volumeSetMetadata(req: { volumeId: string; path: string; uid?: number; gid?: number; mode?: number }, ctx: HandlerContext) {
      return entry(await v().content(volumeId(req.volumeId), (f) => f.setMetadata(required(req.path, 'path'), ownership(req)), ctx.signal));
    },
    async volumeRemove(req: { volumeId: string; path: string }, ctx: HandlerContext) {
      await v().content(volumeId(req.volumeId), (f) => f.remove(required(req.path, 'path')), ctx.signal);
      return {};
    },
    async *volumeReadFile(req: { volumeId: string; path: string }, ctx: HandlerContext) {
      const stream = await v().content(volumeId(req.volumeId), (f) => f.read(required(req.path, 'path')), ctx.signal);
      try {
        let pending: Buffer[] = [];
        let bytes = 0;
        for await (const chunk of stream) {
          pending.push(chunk as Buffer);
          bytes += (chunk as Buffer).length;
          if (bytes >= READ_MESSAGE_BYTES) {
            yield { chunk: Buffer.concat(pending, bytes) };
            pending = [];
            bytes = 0;
          }
        }
        if (bytes > 0) yield { chunk: Buffer.concat(pending, bytes) };
      } finally {
        stream.destroy();
      }
    },
    async volumeWriteFile(requests: AsyncIterable<VolumeWriteFileRequest>, ctx: HandlerContext) {
      const it = requests[Symbol.asyncIterator]();
      const first = await it.next();
      if (first.done || first.value.part.case !== 'header') throw new WrennError('invalid_argument', 'VolumeWriteFile must start with a header naming the volume and path');
      const h = first.value.part.value;
      async function* body(): AsyncIterable<Uint8Array> {
        for (;;) {
          const next = await it.next();
          if (next.done) return;
          if (next.value.part.case !== 'chunk') throw new WrennError('invalid_argument', 'VolumeWriteFile takes exactly one header, first');
          yield next.value.part.value;
        }
      }
      return entry(await v().content(volumeId(h.volumeId), (f) => f.write(required(h.path, 'path'), body(), ownership(h), h.force), ctx.signal));
    },
  };
}
