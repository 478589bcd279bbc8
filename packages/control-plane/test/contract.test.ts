/**
 * The OpenAPI document against Wrenn's contract: every operation of the contract is served
 * under /v1 and /api/v1 (but those another piece of work brings, listed with the reason),
 * every other operation is marked `x-wrenn-extension`, and every operation declares its
 * success answer. That each answer matches its declared schema is checked on every answer
 * the suite receives (test/contract.ts, through the harness).
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { CONTRACT_OPERATIONS, operationKey } from '../src/http/contract-operations.js';
import { startControlPlane, type TestControlPlane } from './harness.js';

/** Contract operations not served yet, each with why (they arrive with their own work). */
const NOT_YET: Record<string, string> = {};

const METHODS = ['get', 'put', 'post', 'delete', 'patch'];

describe('OpenAPI document and Wrenn contract', () => {
  let t: TestControlPlane;
  let doc: { paths: Record<string, Record<string, { responses?: Record<string, unknown>; 'x-wrenn-extension'?: boolean; description?: string }>> };
  const served = new Set<string>();

  before(async () => {
    t = await startControlPlane();
    doc = (await t.api('GET', '/openapi.json')).body;
    for (const [path, item] of Object.entries(doc.paths)) {
      for (const method of Object.keys(item)) if (METHODS.includes(method)) served.add(`${path.startsWith('/api/v1/') ? 'api' : 'v1'} ${operationKey(method, path)}`);
    }
  });
  after(async () => {
    await t?.close();
  });

  test("every operation of Wrenn's contract is served under /v1 and /api/v1", () => {
    const missing: string[] = [];
    for (const op of CONTRACT_OPERATIONS) {
      const [method, path] = op.split(' ') as [string, string];
      const key = operationKey(method, path);
      if (NOT_YET[key]) continue;
      for (const prefix of ['v1', 'api']) if (!served.has(`${prefix} ${key}`)) missing.push(`${prefix}: ${op}`);
    }
    assert.deepEqual(missing, []);
  });

  test('the operations not yet served are exactly those listed with a reason (none silently missing, none listed needlessly)', () => {
    for (const key of Object.keys(NOT_YET)) assert.ok(!served.has(`v1 ${key}`), `${key} is served now: take it off NOT_YET`);
  });

  test('every other operation is marked x-wrenn-extension, and says so', () => {
    const contract = new Set(CONTRACT_OPERATIONS.map((op) => operationKey(op.split(' ')[0]!, op.split(' ')[1]!)));
    const unmarked: string[] = [];
    const marked: string[] = [];
    for (const [path, item] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(item)) {
        if (!METHODS.includes(method)) continue;
        const inContract = contract.has(operationKey(method, path));
        if (!inContract && op['x-wrenn-extension'] !== true) unmarked.push(`${method} ${path}`);
        if (inContract && op['x-wrenn-extension'] !== undefined) marked.push(`${method} ${path}`);
        if (!inContract) assert.match(op.description ?? '', /^Extension:/, `${method} ${path}`);
      }
    }
    assert.deepEqual(unmarked, []);
    assert.deepEqual(marked, []);
    assert.ok(doc.paths['/v1/auth/logout-all']?.post?.['x-wrenn-extension'], 'logout-all is one of ours');
  });

  test('every operation declares its success answer (101 for WebSockets)', () => {
    const none: string[] = [];
    for (const [path, item] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(item)) {
        if (!METHODS.includes(method)) continue;
        if (!Object.keys(op.responses ?? {}).some((s) => /^(101|[23]\d\d)$/.test(s))) none.push(`${method} ${path}`);
      }
    }
    assert.deepEqual(none, []);
  });

  test('an answer that does not match its declared schema is caught (the check cannot pass vacuously)', async () => {
    const { ContractChecker } = await import('./contract.js');
    const checker = new ContractChecker(doc as never);
    assert.throws(() => checker.checkAnswer('GET', '/v1/me', 200, 'application/json', { name: 1 }), /does not match its schema/);
    assert.throws(() => checker.checkAnswer('GET', '/v1/teams/team-x', 404, 'application/json', { message: 'x' }), /does not match/);
    assert.throws(() => checker.checkAnswer('GET', '/v1/teams', 299, 'application/json', []), /not a documented answer/);
    checker.checkAnswer('GET', '/v1/teams', 200, 'application/json', []);
  });
});
