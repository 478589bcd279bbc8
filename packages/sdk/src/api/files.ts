/**
 * `wrenn.files`: files inside a capsule. Bytes in memory go through the multipart write
 * route; streams (and large buffers) as a raw request body through the streamed route,
 * so neither side holds the whole file.
 */
import type { CallOptions, Transport } from '../http.js';
import type { FileEntry } from '../types.js';

const enc = encodeURIComponent;

/** Anything a file can be written from. Node Readables are AsyncIterables. */
export type FileData = string | Uint8Array | ArrayBuffer | Blob | ReadableStream<Uint8Array> | AsyncIterable<Uint8Array | string>;

export interface TransferOptions extends CallOptions {
  /** Called with the total bytes transferred so far. */
  onProgress?: (bytes: number) => void;
}

export interface FileDownload {
  stream: ReadableStream<Uint8Array>;
  /** From Content-Length, when the server sent it. */
  size?: number;
}

/** Above this, in-memory data also goes through the streamed route. */
const BUFFERED_WRITE_MAX = 8 * 1024 * 1024;

function isBytesLike(d: FileData): d is string | Uint8Array | ArrayBuffer | Blob {
  return typeof d === 'string' || d instanceof Uint8Array || d instanceof ArrayBuffer || d instanceof Blob;
}

function byteLength(d: string | Uint8Array | ArrayBuffer | Blob): number {
  if (typeof d === 'string') return Buffer.byteLength(d);
  if (d instanceof Blob) return d.size;
  return d.byteLength;
}

async function* chunksOf(d: FileData): AsyncGenerator<Uint8Array> {
  if (typeof d === 'string') yield Buffer.from(d);
  else if (d instanceof Uint8Array) {
    // Slices keep memory flat and let progress move.
    for (let i = 0; i < d.byteLength; i += 1 << 20) yield d.subarray(i, Math.min(d.byteLength, i + (1 << 20)));
  } else if (d instanceof ArrayBuffer) yield* chunksOf(new Uint8Array(d));
  else if (d instanceof Blob) yield* chunksOf(d.stream());
  else if (d instanceof ReadableStream) {
    const reader = d.getReader();
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        yield value;
      }
    } finally {
      reader.releaseLock();
    }
  } else {
    for await (const c of d) yield typeof c === 'string' ? Buffer.from(c) : c;
  }
}

/** A pull-based web stream over the data's chunks, counting bytes as fetch takes them. */
function bodyStream(data: FileData, onProgress?: (bytes: number) => void): ReadableStream<Uint8Array> {
  const it = chunksOf(data);
  let sent = 0;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      const { value, done } = await it.next();
      if (done) {
        controller.close();
        return;
      }
      controller.enqueue(value);
      sent += value.byteLength;
      onProgress?.(sent);
    },
    async cancel(reason) {
      await it.throw(reason).catch(() => {});
    },
  });
}

function counted(stream: ReadableStream<Uint8Array>, onProgress: (bytes: number) => void): ReadableStream<Uint8Array> {
  let n = 0;
  return stream.pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, controller) {
        n += chunk.byteLength;
        onProgress(n);
        controller.enqueue(chunk);
      },
    }),
  );
}

export class FilesApi {
  constructor(private readonly http: Transport) {}

  /**
   * Writes a file (parents created), from bytes, a string, a Blob, a web ReadableStream or
   * any async iterable of chunks (a Node Readable such as fs.createReadStream).
   * @example await wrenn.files.write(id, '/home/user/data.csv', createReadStream('data.csv'), { onProgress: (n) => bar.update(n) });
   */
  async write(capsuleId: string, path: string, data: FileData, opts: TransferOptions = {}): Promise<void> {
    const { onProgress, ...call } = opts;
    if (isBytesLike(data) && byteLength(data) <= BUFFERED_WRITE_MAX) {
      const form = new FormData();
      form.append('path', path);
      form.append('file', data instanceof Blob ? data : new Blob([typeof data === 'string' ? Buffer.from(data) : new Uint8Array(data)]), 'upload');
      await this.http.raw('POST', `/capsules/${enc(capsuleId)}/files/write`, { ...call, body: form }).then((r) => r.body?.cancel());
      onProgress?.(byteLength(data));
      return;
    }
    const res = await this.http.raw('POST', `/capsules/${enc(capsuleId)}/files/stream/write`, {
      ...call,
      query: { path },
      body: bodyStream(data, onProgress),
      streaming: true,
      headers: { 'content-type': 'application/octet-stream' },
    });
    await res.body?.cancel();
  }

  /** The whole file in memory. */
  async read(capsuleId: string, path: string, opts: CallOptions = {}): Promise<Uint8Array> {
    const res = await this.http.raw('POST', `/capsules/${enc(capsuleId)}/files/read`, { ...opts, json: { path } });
    return new Uint8Array(await res.arrayBuffer());
  }

  async readText(capsuleId: string, path: string, opts: CallOptions = {}): Promise<string> {
    return Buffer.from(await this.read(capsuleId, path, opts)).toString('utf8');
  }

  /**
   * A file of any size as a stream.
   * @example const { stream } = await wrenn.files.readStream(id, '/tmp/big.bin'); await pipeline(Readable.fromWeb(stream), createWriteStream('big.bin'));
   */
  async readStream(capsuleId: string, path: string, opts: TransferOptions = {}): Promise<FileDownload> {
    const { onProgress, ...call } = opts;
    const res = await this.http.raw('POST', `/capsules/${enc(capsuleId)}/files/stream/read`, { ...call, json: { path } });
    const length = res.headers.get('content-length');
    const raw = res.body ?? new ReadableStream<Uint8Array>({ start: (c) => c.close() });
    return { stream: onProgress ? counted(raw, onProgress) : raw, ...(length ? { size: Number(length) } : {}) };
  }

  /** Entries under `path`, `depth` levels deep (default 1: the directory's children). */
  async list(capsuleId: string, path: string, opts: CallOptions & { depth?: number } = {}): Promise<FileEntry[]> {
    const { depth, ...call } = opts;
    const res = await this.http.json<{ entries: FileEntry[] }>('POST', `/capsules/${enc(capsuleId)}/files/list`, { ...call, json: { path, depth: depth ?? 1 } });
    return res?.entries ?? [];
  }

  /** Creates a directory and its parents; an existing path fails with code `conflict`. */
  async mkdir(capsuleId: string, path: string, opts: CallOptions = {}): Promise<FileEntry> {
    const res = await this.http.json<FileEntry | { entry: FileEntry }>('POST', `/capsules/${enc(capsuleId)}/files/mkdir`, { ...opts, json: { path } });
    const wrapped = (res as { entry?: FileEntry }).entry;
    return wrapped ?? (res as FileEntry);
  }

  /** Removes a file or a directory tree. */
  async remove(capsuleId: string, path: string, opts: CallOptions = {}): Promise<void> {
    await this.http.json<void>('POST', `/capsules/${enc(capsuleId)}/files/remove`, { ...opts, json: { path } });
  }
}
