/**
 * CRIU's own account of a dump or restore: the `stats-dump` / `stats-restore` files it
 * writes into its work dir (for runc 1.1 the image dir). Layout (CRIU criu/image.c,
 * criu/include/magic.h, images/stats.proto): u32 LE IMG_SERVICE_MAGIC, u32 LE STATS_MAGIC,
 * u32 LE length, then one protobuf StatsEntry { optional DumpStatsEntry dump = 1;
 * optional RestoreStatsEntry restore = 2; }. Times are microseconds.
 *
 * For a full dump (cr-dump.c): freezing_time is the freeze of the tree; frozen_time runs
 * from the tree frozen to the tree in its final state (killed, for a pause), and contains
 * memdump_time (pages drained into pipes) and memwrite_time (pages written to the image).
 * CRIU's process start-up (kerndat, options, connecting to runc) and what follows the kill
 * (closing images, writing these stats, exit) are in neither.
 *
 * The CRIU log's own timestamps ("(ss.uuuuuu)" from the process start, with -v4) give the
 * span from its first to its last line: start-up and exit included, exec not.
 */
import { existsSync, readFileSync } from 'node:fs';

const IMG_SERVICE_MAGIC = 0x55105940;
const STATS_MAGIC = 0x57093306;

export interface DumpStats {
  freezingUs: number;
  frozenUs: number;
  memdumpUs: number;
  memwriteUs: number;
  pagesScanned: number;
  pagesWritten: number;
  pagesLazy: number;
}

export interface RestoreStats {
  forkingUs: number;
  restoreUs: number;
  pagesRestored: number;
}

/** Fields of one protobuf message: field number → last varint value, or the bytes of a length-delimited field. */
function fields(buf: Buffer): Map<number, number | Buffer> {
  const out = new Map<number, number | Buffer>();
  let i = 0;
  const varint = (): number => {
    let v = 0;
    let mul = 1;
    for (;;) {
      if (i >= buf.length) throw new Error('truncated varint');
      const b = buf[i++]!;
      v += (b & 0x7f) * mul;
      if ((b & 0x80) === 0) return v;
      mul *= 128;
    }
  };
  while (i < buf.length) {
    const key = varint();
    const field = Math.floor(key / 8);
    const wire = key & 7;
    if (wire === 0) out.set(field, varint());
    else if (wire === 2) {
      const len = varint();
      out.set(field, buf.subarray(i, i + len));
      i += len;
    } else if (wire === 1) i += 8;
    else if (wire === 5) i += 4;
    else throw new Error(`unsupported wire type ${wire}`);
  }
  return out;
}

function statsEntry(path: string): Map<number, number | Buffer> | undefined {
  if (!existsSync(path)) return undefined;
  const buf = readFileSync(path);
  if (buf.length < 12 || buf.readUInt32LE(0) !== IMG_SERVICE_MAGIC || buf.readUInt32LE(4) !== STATS_MAGIC) {
    throw new Error(`${path}: not a CRIU stats image`);
  }
  const len = buf.readUInt32LE(8);
  return fields(buf.subarray(12, 12 + len));
}

const num = (m: Map<number, number | Buffer>, f: number) => {
  const v = m.get(f);
  return typeof v === 'number' ? v : 0;
};

export function readDumpStats(dir: string): DumpStats | undefined {
  const dump = statsEntry(`${dir}/stats-dump`)?.get(1);
  if (!Buffer.isBuffer(dump)) return undefined;
  const d = fields(dump);
  return {
    freezingUs: num(d, 1),
    frozenUs: num(d, 2),
    memdumpUs: num(d, 3),
    memwriteUs: num(d, 4),
    pagesScanned: num(d, 5),
    pagesWritten: num(d, 7),
    pagesLazy: num(d, 9),
  };
}

export function readRestoreStats(dir: string): RestoreStats | undefined {
  const restore = statsEntry(`${dir}/stats-restore`)?.get(2);
  if (!Buffer.isBuffer(restore)) return undefined;
  const r = fields(restore);
  return { forkingUs: num(r, 3), restoreUs: num(r, 4), pagesRestored: num(r, 5) };
}

/** Milliseconds from the first to the last timestamped line of a CRIU log (-v4: "(ss.uuuuuu) ..."). */
export function criuLogSpanMs(path: string): number | undefined {
  if (!existsSync(path)) return undefined;
  const stamps = [...readFileSync(path, 'utf8').matchAll(/^\((\d+)\.(\d{6})\)/gm)].map((m) => Number(m[1]) * 1000 + Number(m[2]) / 1000);
  if (stamps.length === 0) return undefined;
  return stamps[stamps.length - 1]! - stamps[0]!;
}
