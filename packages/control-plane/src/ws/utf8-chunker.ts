/**
 * Turns a byte stream (a process's stdout or stderr) into JSON-safe message payloads:
 * UTF-8 text when the bytes are text, base64 (`encoding: "base64"`) when they are not.
 * A multi-byte character split across two chunks is held back until its end arrives, so
 * text output is never turned into base64 (or mangled) just because of where a chunk ended.
 */
import { isUtf8 } from 'node:buffer';

export interface EncodedChunk {
  data: string;
  encoding: 'utf-8' | 'base64';
}

/** Length of an incomplete UTF-8 sequence at the end of `buf` (0 when it ends cleanly). */
export function incompleteUtf8Tail(buf: Uint8Array): number {
  for (let back = 1; back <= Math.min(3, buf.length); back++) {
    const b = buf[buf.length - back]!;
    if ((b & 0xc0) === 0x80) continue; // continuation byte: keep looking for the lead byte
    if (b < 0x80) return 0;
    const need = b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : 2;
    return back < need ? back : 0;
  }
  return 0;
}

export class Utf8Chunker {
  private carry: Buffer = Buffer.alloc(0);

  /** The payload for `chunk` (with any held-back bytes), or undefined if all of it is held back. */
  push(chunk: Uint8Array): EncodedChunk | undefined {
    const buf = this.carry.length ? Buffer.concat([this.carry, chunk]) : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    const tail = incompleteUtf8Tail(buf);
    const body = buf.subarray(0, buf.length - tail);
    if (isUtf8(body)) {
      this.carry = Buffer.from(buf.subarray(buf.length - tail));
      return body.length ? { data: body.toString('utf8'), encoding: 'utf-8' } : undefined;
    }
    this.carry = Buffer.alloc(0);
    return { data: buf.toString('base64'), encoding: 'base64' };
  }

  /** Whatever is held back, at the end of the stream (an unfinished character: base64). */
  flush(): EncodedChunk | undefined {
    if (!this.carry.length) return undefined;
    const rest = this.carry;
    this.carry = Buffer.alloc(0);
    return { data: rest.toString('base64'), encoding: 'base64' };
  }
}
