/**
 * Checks answers against the control plane's own OpenAPI document with Ajv: the test
 * harness passes every JSON answer a test receives through `checkAnswer`, so each test is
 * also a check that the document describes what the server sends. Operations are matched
 * by method and path template; an answer whose status the operation does not declare, or
 * whose body does not match the declared schema, throws with the schema errors.
 */
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import type { ValidateFunction } from 'ajv';

interface Operation {
  responses?: Record<string, { content?: Record<string, { schema?: unknown }> }>;
}
type OpenApiDoc = { paths: Record<string, Record<string, Operation>>; components?: { schemas?: Record<string, unknown> } };

interface Route {
  method: string;
  template: string;
  pattern: RegExp;
  op: Operation;
}

export class ContractChecker {
  private readonly routes: Route[] = [];
  private readonly ajv = new Ajv2020({ strict: false, allErrors: true, validateFormats: true });
  private readonly compiled = new Map<string, ValidateFunction>();
  /** "METHOD template status" of every answer checked (what the suite exercised). */
  readonly seen = new Set<string>();

  constructor(doc: OpenApiDoc) {
    (addFormats as unknown as (a: Ajv2020) => void)(this.ajv);
    this.ajv.addKeyword({ keyword: 'example' });
    this.ajv.addSchema({ $id: 'doc', components: doc.components ?? {} });
    for (const [template, methods] of Object.entries(doc.paths)) {
      const pattern = new RegExp(`^${template.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\\?\{[^}]+\\?\}/g, '[^/]+')}$`);
      for (const [method, op] of Object.entries(methods)) this.routes.push({ method: method.toUpperCase(), template, pattern, op });
    }
    // Static segments win over parameters (e.g. /capsules/stats over /capsules/{id}).
    this.routes.sort((a, b) => (a.template.match(/\{/g)?.length ?? 0) - (b.template.match(/\{/g)?.length ?? 0));
  }

  /** Throws when a JSON answer of a documented operation does not match its schema. */
  checkAnswer(method: string, url: string, status: number, contentType: string | null, body: unknown): void {
    const path = new URL(url, 'http://x').pathname;
    const route = this.routes.find((r) => r.method === method.toUpperCase() && r.pattern.test(path));
    if (!route) return; // not an operation of the document (e.g. /metrics, /openapi.json)
    const declared = route.op.responses ?? {};
    const key = `${route.method} ${route.template} ${status}`;
    const res = declared[String(status)] ?? declared[`${String(status)[0]}XX`] ?? declared.default;
    this.seen.add(key);
    if (!res) {
      // Every error of every route has the one envelope, documented or not.
      if (status >= 400) return this.checkEnvelope(key, body);
      throw new Error(`contract: ${key} is not a documented answer of ${route.method} ${route.template} (documented: ${Object.keys(declared).join(', ')})`);
    }
    if (!contentType?.includes('application/json') || body === undefined || typeof body === 'string') return;
    const schema = res.content?.['application/json']?.schema;
    if (!schema) return;
    let validate = this.compiled.get(key);
    if (!validate) {
      validate = this.ajv.compile(rebase(schema) as object);
      this.compiled.set(key, validate);
    }
    if (!validate(body)) {
      throw new Error(`contract: ${key} answered a body that does not match its schema: ${this.ajv.errorsText(validate.errors)}\n${JSON.stringify(body).slice(0, 2000)}`);
    }
  }

  private checkEnvelope(key: string, body: unknown): void {
    if (body === undefined || typeof body === 'string') return; // not JSON (a proxied or framework answer)
    let validate = this.compiled.get('error');
    if (!validate) {
      validate = this.ajv.compile(ERROR_ENVELOPE);
      this.compiled.set('error', validate);
    }
    if (!validate(body)) {
      throw new Error(`contract: ${key} answered a body that does not match its schema: ${this.ajv.errorsText(validate.errors)}\n${JSON.stringify(body).slice(0, 2000)}`);
    }
  }
}

const ERROR_ENVELOPE = {
  type: 'object',
  required: ['error'],
  properties: { error: { type: 'object', required: ['code', 'message'], properties: { code: { type: 'string' }, message: { type: 'string' } } } },
};

/** `#/components/...` references resolve inside the document registered as `doc`. */
function rebase(schema: unknown): unknown {
  return JSON.parse(JSON.stringify(schema).replaceAll('"$ref":"#/components/', '"$ref":"doc#/components/'));
}
