/**
 * `Range: bytes=...` for GET /files. Only one range is served; a header envd cannot use
 * (several ranges, another unit, bad syntax) is ignored, which RFC 9110 allows, and the
 * whole file is sent with 200.
 */

/** Inclusive byte offsets, as in `content-range: bytes start-end/size`. */
export interface ByteRange {
  readonly start: number;
  readonly end: number;
}

/**
 * Parses `header` for a file of `size` bytes: a range to send, `'unsatisfiable'` (→ 416),
 * or undefined (no usable Range header: send everything).
 *
 * @example parseRange('bytes=0-99', 1000) // { start: 0, end: 99 }
 * @example parseRange('bytes=-10', 1000)  // { start: 990, end: 999 }
 */
export function parseRange(header: string | undefined, size: number): ByteRange | 'unsatisfiable' | undefined {
  if (!header) return undefined;
  const m = /^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$/i.exec(header);
  if (!m) return undefined;
  const [, first = '', last = ''] = m;
  if (first === '' && last === '') return undefined;
  if (first === '') {
    // Suffix range: the last n bytes.
    const n = Number(last);
    if (!Number.isSafeInteger(n)) return undefined;
    if (n === 0 || size === 0) return 'unsatisfiable';
    return { start: Math.max(0, size - n), end: size - 1 };
  }
  const start = Number(first);
  const end = last === '' ? Number.MAX_SAFE_INTEGER : Number(last);
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || end < start) return undefined;
  if (start >= size) return 'unsatisfiable';
  return { start, end: Math.min(end, size - 1) };
}
