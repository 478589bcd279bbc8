/**
 * HTTP helpers for envd's plain routes. Errors use the envd protocol's body,
 * `{"code": <HTTP status>, "message": "..."}`, which the e2b SDK and the host agent read.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { WrennError, fromSystemError } from '@wrenn/shared';
import type { TSchema, Static } from 'typebox';
import { Compile } from 'typebox/compile';

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const payload = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) });
  res.end(payload);
}

export function toWrennError(err: unknown): WrennError {
  if (err instanceof WrennError) return err;
  if ((err as NodeJS.ErrnoException)?.code) return fromSystemError(err);
  return new WrennError('internal', err instanceof Error ? err.message : String(err), undefined, { cause: err });
}

export function sendError(res: ServerResponse, err: unknown): void {
  const e = toWrennError(err);
  if (res.headersSent) {
    // The body is half-sent: abort the connection so the client cannot mistake it for a complete one.
    res.destroy(e);
    return;
  }
  sendJson(res, e.httpStatus, { code: e.httpStatus, message: e.message, reason: e.code });
}

/** Reads a JSON body of at most `maxBytes` and validates it against `schema`. */
export async function readJson<S extends TSchema>(req: IncomingMessage, schema: S, maxBytes = 1024 * 1024): Promise<Static<S>> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > maxBytes) throw new WrennError('payload_too_large', `request body is larger than ${maxBytes} bytes`);
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  let value: unknown;
  try {
    value = text.trim() === '' ? {} : JSON.parse(text);
  } catch (err) {
    throw new WrennError('invalid_argument', `request body is not valid JSON: ${(err as Error).message}`);
  }
  const validator = compiled(schema);
  if (!validator.Check(value)) {
    const first = validator.Errors(value)[0];
    const where = first?.instancePath || '(body)';
    throw new WrennError('invalid_argument', `invalid request body at ${where}: ${first?.message ?? 'does not match the schema'}`);
  }
  return value as Static<S>;
}

const validators = new WeakMap<TSchema, ReturnType<typeof Compile>>();
function compiled(schema: TSchema): ReturnType<typeof Compile> {
  let v = validators.get(schema);
  if (!v) {
    v = Compile(schema);
    validators.set(schema, v);
  }
  return v;
}
