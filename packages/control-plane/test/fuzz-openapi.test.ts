/**
 * Schema-guided fuzz of every operation of our own /openapi.json (fast-check): path
 * parameters, query strings and bodies generated from each operation's schemas, half of
 * them well-formed and half of them anything JSON (wrong types, NULs, huge numbers, deep
 * nesting), sent with a team's API key or an admin's JWT or nothing. Not one answer may be
 * a 5xx, and every error answer has the `{"error":{code,message}}` shape.
 * The one 5xx that is right here: no host is registered in this control plane, so an
 * operation that must place or reach a capsule answers 503 with a host reason; that is
 * allowed and nothing else. Bounded: a fixed seed and NUM_RUNS requests.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { startControlPlane, seedTeam } from './harness.js';

const NUM_RUNS = 400;
const SEED = 20261207;
const METHODS = ['get', 'post', 'put', 'patch', 'delete'] as const;

type Schema = Record<string, unknown>;
interface Operation {
  method: string;
  path: string;
  params: Schema[];
  body?: Schema;
}

/** Operations that stream or wait by design (server-sent events, WebSocket upgrades): not request/answer. */
const SKIP = /\/(events|stream|watch|logs\/follow)$|\/ws$|\/pty|\/terminal/;

const NASTY_STRINGS = ['', '\u0000', 'a\u0000b', '\uFFFF', '\uD800', '../../etc/passwd', '%00', 'x'.repeat(5000), ' ', 'null', '{}', '🦀', '\n'];

function deref(schema: Schema, doc: Schema): Schema {
  const ref = schema.$ref;
  if (typeof ref !== 'string') return schema;
  const name = ref.split('/').pop()!;
  return ((doc.components as Schema)?.schemas as Record<string, Schema>)?.[name] ?? {};
}

/** A value shaped by `schema` (depth-bounded); strings and numbers include edge cases. */
function fromSchema(raw: Schema, doc: Schema, depth = 0): fc.Arbitrary<unknown> {
  const schema = deref(raw, doc);
  if (depth > 4) return fc.constant(null);
  const alternatives = (schema.anyOf ?? schema.oneOf) as Schema[] | undefined;
  if (alternatives?.length) return fc.oneof(...alternatives.map((s) => fromSchema(s, doc, depth + 1)));
  if ('const' in schema) return fc.constant(schema.const);
  if (Array.isArray(schema.enum)) return fc.constantFrom(...(schema.enum as unknown[]));
  const type = Array.isArray(schema.type) ? (schema.type as string[])[0] : schema.type;
  switch (type) {
    case 'string':
      return fc.oneof(fc.string({ maxLength: Number(schema.maxLength ?? 64) }), fc.constantFrom(...NASTY_STRINGS), fc.constantFrom('wrenn', 'minimal', 'a@b.c', 'https://127.0.0.1:1/x'));
    case 'integer':
      return fc.oneof(fc.integer({ min: -5, max: 10_000 }), fc.constantFrom(0, -1, 2 ** 31, 2 ** 53, Number.MAX_SAFE_INTEGER));
    case 'number':
      return fc.oneof(fc.double({ noNaN: true, noDefaultInfinity: true, min: -1e6, max: 1e6 }), fc.constantFrom(0, 0.25, -0.5, 1e308));
    case 'boolean':
      return fc.boolean();
    case 'null':
      return fc.constant(null);
    case 'array':
      return fc.array(fromSchema((schema.items as Schema) ?? {}, doc, depth + 1), { maxLength: 4 });
    case 'object': {
      const props = (schema.properties ?? {}) as Record<string, Schema>;
      const required = new Set((schema.required as string[]) ?? []);
      const shape: Record<string, fc.Arbitrary<unknown>> = {};
      for (const [k, v] of Object.entries(props)) shape[k] = fromSchema(v, doc, depth + 1);
      return fc.record(shape, { requiredKeys: [...required].filter((k) => k in shape) });
    }
    default:
      return fc.jsonValue({ maxDepth: 2 });
  }
}

/** Well-formed per the schema half the time, any JSON the other half. */
function anyOrShaped(schema: Schema, doc: Schema): fc.Arbitrary<unknown> {
  return fc.oneof(fromSchema(schema, doc), fc.jsonValue({ maxDepth: 3 }));
}

function operationsOf(doc: Schema): Operation[] {
  const ops: Operation[] = [];
  for (const [path, item] of Object.entries(doc.paths as Record<string, Record<string, Schema>>)) {
    if (SKIP.test(path)) continue;
    for (const method of METHODS) {
      const op = item[method];
      if (!op) continue;
      const content = ((op.requestBody as Schema)?.content as Record<string, Schema> | undefined)?.['application/json'];
      ops.push({ method: method.toUpperCase(), path, params: (op.parameters as Schema[]) ?? [], ...(content?.schema ? { body: content.schema as Schema } : {}) });
    }
  }
  return ops;
}

test('fuzz of every operation from /openapi.json: no 5xx, every error in our shape', async () => {
  const t = await startControlPlane();
  try {
    const team = await seedTeam(t.cp);
    const admin = await seedTeam(t.cp, { isAdmin: true });
    const doc = (await (await fetch(`${t.url}/openapi.json`)).json()) as Schema;
    const ops = operationsOf(doc);
    assert.ok(ops.length > 50, `the document lists ${ops.length} operations`);
    const request = fc.constantFrom(...ops).chain((op) =>
      fc.record({
        op: fc.constant(op),
        path: fc.record(Object.fromEntries(op.params.filter((p) => p.in === 'path').map((p) => [p.name as string, fc.oneof(fc.string({ minLength: 1, maxLength: 40 }), fc.constantFrom('cl-nope', '%00', '..', 'a'.repeat(300)))]))),
        query: fc.record(
          Object.fromEntries(op.params.filter((p) => p.in === 'query').map((p) => [p.name as string, anyOrShaped((p.schema as Schema) ?? {}, doc)])),
          { requiredKeys: [] },
        ),
        body: op.body ? anyOrShaped(op.body, doc) : fc.constant(undefined),
        auth: fc.constantFrom<'key' | 'admin' | 'none'>('key', 'key', 'admin', 'none'),
      }),
    );
    const failures: string[] = [];
    await fc.assert(
      fc.asyncProperty(request, async ({ op, path, query, body, auth }) => {
        let url = op.path.replace(/\{([^}]+)\}/g, (_, name: string) => encodeURIComponent(String(path[name] ?? 'x')));
        const qs = new URLSearchParams();
        for (const [k, v] of Object.entries(query)) qs.set(k, typeof v === 'string' ? v : JSON.stringify(v));
        if ([...qs].length) url += `?${qs}`;
        const headers: Record<string, string> = {};
        if (auth === 'key') headers['x-api-key'] = team.apiKey;
        if (auth === 'admin') headers.authorization = `Bearer ${admin.jwt}`;
        if (body !== undefined) headers['content-type'] = 'application/json';
        const res = await fetch(`${t.url}${url}`, { method: op.method, headers, ...(body !== undefined && op.method !== 'GET' ? { body: JSON.stringify(body) } : {}), signal: AbortSignal.timeout(30_000) });
        const text = await res.text();
        const where = `${op.method} ${url} (${auth}) body ${JSON.stringify(body)?.slice(0, 200)} → ${res.status} ${text.slice(0, 300)}`;
        if (res.status >= 400) {
          let parsed: { error?: { code?: unknown; message?: unknown; reason?: unknown } } | undefined;
          try {
            parsed = JSON.parse(text);
          } catch {
            // not JSON: caught below
          }
          if (typeof parsed?.error?.code !== 'string' || typeof parsed.error.message !== 'string') failures.push(`not our error shape: ${where}`);
          const noHost = res.status === 503 && /host/i.test(String(parsed?.error?.message ?? '') + String(parsed?.error?.reason ?? ''));
          if (res.status >= 500 && !noHost) failures.push(where);
        }
      }),
      { numRuns: NUM_RUNS, seed: SEED, endOnFailure: false },
    );
    assert.deepEqual(failures, [], `${failures.length} bad answers:\n${failures.slice(0, 20).join('\n')}`);
  } finally {
    await t.close();
  }
});
