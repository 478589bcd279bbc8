import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Code, ConnectError } from '@connectrpc/connect';
import { API_ERROR_CODES, CODE_OF_CONNECT, ConnectCode, ERROR_CODES, WrennError, codeOfHttpStatus, isErrorCode, wireError, type ErrorCode } from './errors.js';
import { asWrennError, fromConnectError, toConnectError } from './connect-errors.js';

const codes = Object.keys(ERROR_CODES) as ErrorCode[];

describe('the error registry', () => {
  test('every code maps to a published code, and every published code is used', () => {
    const used = new Set(codes.map((c) => ERROR_CODES[c].api));
    for (const c of codes) assert.ok((API_ERROR_CODES as readonly string[]).includes(ERROR_CODES[c].api), c);
    assert.deepEqual([...used].sort(), [...API_ERROR_CODES].sort());
  });

  test('a published code never contradicts the HTTP status class', () => {
    const expected: Record<string, (s: number) => boolean> = {
      invalid_request: (s) => s >= 400 && s < 500 && s !== 401 && s !== 403 && s !== 404,
      unauthorized: (s) => s === 401,
      forbidden: (s) => s === 403,
      not_found: (s) => s === 404,
      invalid_state: (s) => s === 409 || s === 412 || s === 502,
      conflict: (s) => s === 409,
      host_has_sandboxes: (s) => s === 409,
      host_unavailable: (s) => s === 503,
      agent_error: (s) => s >= 500,
      internal_error: (s) => s >= 499,
    };
    for (const c of codes) assert.ok(expected[ERROR_CODES[c].api]!(ERROR_CODES[c].http), `${c}: ${ERROR_CODES[c].api} with HTTP ${ERROR_CODES[c].http}`);
  });

  test('the wire form carries the published code, the precise reason and the details', () => {
    const e = new WrennError('capsule_busy', 'capsule cl-1 is pausing', { status: 'pausing' });
    assert.deepEqual(wireError(e), { code: 'invalid_state', reason: 'capsule_busy', message: 'capsule cl-1 is pausing', details: { status: 'pausing' } });
    assert.deepEqual(e.toJSON(), { error: wireError(e) });
    assert.equal(e.httpStatus, 409);
  });

  test('host_has_capsules names the capsules under both names', () => {
    const w = wireError(new WrennError('host_has_capsules', 'busy host', { capsuleIds: ['cl-a', 'cl-b'] }));
    assert.equal(w.code, 'host_has_sandboxes', "the contract's code");
    assert.equal(w.reason, 'host_has_capsules');
    assert.deepEqual(w.capsule_ids, ['cl-a', 'cl-b']);
    assert.deepEqual(w.sandbox_ids, ['cl-a', 'cl-b']);
  });

  test('every Connect code falls back to a registry code with that same Connect code, or a broader one', () => {
    for (const [connect, code] of Object.entries(CODE_OF_CONNECT)) {
      assert.ok(isErrorCode(code), code);
      const same = ERROR_CODES[code].connect === Number(connect);
      const broader = ['internal', 'conflict', 'range_not_satisfiable'].includes(code);
      assert.ok(same || broader, `Connect ${connect} → ${code}`);
    }
  });

  test('plain HTTP statuses fall back to the registry code with that status', () => {
    for (const s of [400, 401, 403, 404, 409, 412, 413, 415, 416, 429, 431, 501, 502, 503, 504, 507]) assert.equal(ERROR_CODES[codeOfHttpStatus(s)].http, s, String(s));
    assert.equal(codeOfHttpStatus(418), 'invalid_argument');
    assert.equal(codeOfHttpStatus(599), 'internal');
  });

  test('isErrorCode accepts registry codes only (not prototype keys)', () => {
    assert.ok(isErrorCode('capsule_not_found'));
    assert.ok(!isErrorCode('toString'));
    assert.ok(!isErrorCode('nope'));
    assert.ok(!isErrorCode(undefined));
  });
});

describe('fromConnectError', () => {
  test('the code the peer named in x-wrenn-error-code wins over the Connect status', () => {
    const sent = toConnectError(new WrennError('process_not_found', 'no process 7'));
    assert.equal(sent.code, Code.NotFound);
    const e = fromConnectError(sent);
    assert.equal(e.code, 'process_not_found');
    assert.equal(e.message, 'no process 7');
  });

  test('without a header (or with an unknown one), the registry code of the Connect status', () => {
    assert.equal(fromConnectError(new ConnectError('x', Code.FailedPrecondition)).code, 'failed_precondition');
    assert.equal(fromConnectError(new ConnectError('x', Code.Unimplemented)).code, 'not_implemented');
    assert.equal(fromConnectError(new ConnectError('x', Code.NotFound, { 'x-wrenn-error-code': 'made_up' })).code, 'not_found');
    for (const n of Object.values(ConnectCode)) assert.ok(isErrorCode(fromConnectError(new ConnectError('x', n as number as Code)).code));
  });

  test('a WrennError passes through, also when Connect wrapped it', () => {
    const original = new WrennError('capsule_busy', 'busy');
    assert.equal(fromConnectError(original), original);
    assert.equal(fromConnectError(ConnectError.from(original)), original);
  });

  test('a connection that could not be made is unavailable, an abort canceled, anything else internal', () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED 10.0.0.2:49983'), { code: 'ECONNREFUSED' });
    const e = fromConnectError(refused, 'envd');
    assert.equal(e.code, 'unavailable');
    assert.match(e.message, /^envd unreachable/);
    assert.equal(fromConnectError(new DOMException('aborted', 'AbortError')).code, 'canceled');
    assert.equal(fromConnectError(new Error('boom')).code, 'internal');
  });

  test('asWrennError keeps internals out of the message of an unknown error', () => {
    const e = asWrennError(new Error('password=hunter2 in a stack'));
    assert.equal(e.code, 'internal');
    assert.equal(e.message, 'internal error');
  });
});
