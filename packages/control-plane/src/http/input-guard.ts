/**
 * Input hygiene for every route, before its schema runs:
 * - JSON bodies must be valid UTF-8 (a lone 0xFF would otherwise turn into U+FFFD and be
 *   stored as if the client had sent it);
 * - no string anywhere in the params, query or body (keys included) may hold a NUL or a
 *   lone UTF-16 surrogate (`"\ud800"` in JSON): NUL truncates or breaks what it reaches
 *   (Postgres text, execve argv and environ), a lone surrogate cannot be encoded back;
 * - schemas never coerce types in bodies (`cmd: 123`, `args: "x"`, `timeout_sec: "30"` are
 *   400), while path params, query strings and headers, which are text on the wire, still
 *   convert to the numbers and booleans their schemas declare.
 */
import type { FastifyInstance, FastifyRequest, FastifyServerOptions } from 'fastify';
import { Ajv, type Options as AjvOptions } from 'ajv';
import addFormatsImport from 'ajv-formats';
import { WrennError } from '@wrenn/shared';

// ajv-formats ships CommonJS with `exports.default`: take whichever the loader gives.
const addFormats = ((addFormatsImport as unknown as { default?: typeof addFormatsImport }).default ?? addFormatsImport) as unknown as (ajv: Ajv) => Ajv;

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Why `s` may not be accepted as text, or undefined. */
export function textProblem(s: string): string | undefined {
  if (s.includes('\u0000')) return 'contains a NUL character';
  if (LONE_SURROGATE.test(s)) return 'is not valid Unicode (a lone surrogate)';
  return undefined;
}

const MAX_DEPTH = 64;

/** The first string (value or key) in `value` that `textProblem` refuses, with its path. */
export function findBadText(value: unknown, path: string, depth = 0, seen = new WeakSet<object>()): { path: string; problem: string } | undefined {
  if (typeof value === 'string') {
    const problem = textProblem(value);
    return problem ? { path, problem } : undefined;
  }
  if (value === null || typeof value !== 'object' || depth > MAX_DEPTH) return undefined;
  // Streams, buffers (multipart parts, raw uploads) are bytes, not text: not ours to judge.
  if (Buffer.isBuffer(value) || typeof (value as { pipe?: unknown }).pipe === 'function') return undefined;
  // Each object once: parsed JSON has no cycles, but other parsers' bodies may.
  if (seen.has(value)) return undefined;
  seen.add(value);
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const bad = findBadText(value[i], `${path}[${i}]`, depth + 1, seen);
      if (bad) return bad;
    }
    return undefined;
  }
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
    const keyProblem = textProblem(k);
    if (keyProblem) return { path: `${path} key ${JSON.stringify(k.replace(/\u0000/g, '\\0'))}`, problem: keyProblem };
    const bad = findBadText(v, path ? `${path}.${k}` : k, depth + 1, seen);
    if (bad) return bad;
  }
  return undefined;
}

function checkRequest(request: FastifyRequest): void {
  const parts: Array<[string, unknown]> = [
    ['path', request.params],
    ['query', request.query],
    ['body', request.body],
  ];
  for (const [where, value] of parts) {
    const bad = findBadText(value, '');
    if (bad) throw new WrennError('invalid_argument', `invalid ${where}: ${bad.path ? `${bad.path} ` : ''}${bad.problem}`);
  }
  // A path segment like %FF decodes to U+FFFD silently: look at the raw URL's escapes.
  const rawPath = (request.raw.url ?? '').split('?')[0]!;
  if (rawPath.includes('%')) {
    try {
      new TextDecoder('utf-8', { fatal: true }).decode(Buffer.from(percentBytes(rawPath)));
    } catch {
      throw new WrennError('invalid_argument', 'invalid path: percent-escapes that are not valid UTF-8');
    }
  }
}

/** The bytes a percent-encoded string stands for (malformed escapes stay as they are). */
function percentBytes(s: string): number[] {
  const out: number[] = [];
  const raw = Buffer.from(s, 'utf8');
  for (let i = 0; i < raw.length; i++) {
    const hex = raw[i] === 0x25 && i + 2 < raw.length ? raw.subarray(i + 1, i + 3).toString('latin1') : '';
    if (/^[0-9a-fA-F]{2}$/.test(hex)) {
      out.push(parseInt(hex, 16));
      i += 2;
    } else out.push(raw[i]!);
  }
  return out;
}

const BASE_AJV: AjvOptions = { removeAdditional: false, useDefaults: true, allErrors: false, strict: false, allowUnionTypes: true };

/**
 * Fastify options of the input rules (merged into the server's). Refusals raised before
 * routing and by node's parser are rendered by http/errors.ts (`frameworkErrors`,
 * `clientErrorHandler`), in the one error shape.
 */
export const INPUT_SERVER_OPTIONS: Pick<FastifyServerOptions, 'routerOptions'> = {
  // Ids are at most 128 characters; longer ones reach the route and its schema's 400.
  routerOptions: { maxParamLength: 1024 },
};

export function installInputGuard(app: FastifyInstance): void {
  const strict = addFormats(new Ajv({ ...BASE_AJV, coerceTypes: false }));
  const textual = addFormats(new Ajv({ ...BASE_AJV, coerceTypes: 'array' }));
  app.setValidatorCompiler(({ schema, httpPart }) => (httpPart === 'body' ? strict : textual).compile(schema as object));

  const parseJson = app.getDefaultJsonParser('error', 'error');
  const fatalUtf8 = new TextDecoder('utf-8', { fatal: true });
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (request, body, done) => {
    let text: string;
    try {
      text = fatalUtf8.decode(body as Buffer);
    } catch {
      done(new WrennError('invalid_argument', 'invalid body: not valid UTF-8'), undefined);
      return;
    }
    parseJson(request, text, done);
  });

  app.addHook('preValidation', async (request) => checkRequest(request));
}
