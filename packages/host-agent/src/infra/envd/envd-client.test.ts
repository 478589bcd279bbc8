import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { EnvdClient } from './envd-client.js';

describe("envd's plain-route errors", () => {
  test('the reason envd names is kept (a 404 about a process is process_not_found, not file_not_found)', () => {
    const e = EnvdClient.httpError(404, JSON.stringify({ code: 404, message: 'no process 7', reason: 'process_not_found' }));
    assert.equal(e.code, 'process_not_found');
    assert.equal(e.message, 'no process 7');
  });

  test('without a reason, the registry code of the status; a body that is not JSON is the message', () => {
    assert.equal(EnvdClient.httpError(507, JSON.stringify({ code: 507, message: 'disk full' })).code, 'not_enough_disk_space');
    const e = EnvdClient.httpError(502, 'upstream went away');
    assert.equal(e.code, 'bad_gateway');
    assert.equal(e.message, 'upstream went away');
    assert.equal(EnvdClient.httpError(500, JSON.stringify({ reason: 'nonsense' })).code, 'internal');
  });
});
