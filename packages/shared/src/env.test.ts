import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { int, intFrom } from './env.js';

describe('int() from the environment', () => {
  test('unset or empty: the fallback', () => {
    assert.equal(int({}, 'WRENN_X', 42), 42);
    assert.equal(int({ WRENN_X: '' }, 'WRENN_X', 42), 42);
  });

  test('digits: their value, down to the minimum', () => {
    assert.equal(int({ WRENN_X: '0' }, 'WRENN_X', 42), 0);
    assert.equal(int({ WRENN_X: '300000' }, 'WRENN_X', 42), 300000);
    assert.equal(int({ WRENN_X: '60' }, 'WRENN_X', 42, 60), 60);
  });

  test('anything else fails, naming the variable, the minimum and the value', () => {
    for (const bad of ['abc', '1.5', '1e3', '0x10', ' 5', '5 ', '+5', '99999999999999999999']) {
      assert.throws(() => int({ WRENN_X: bad }, 'WRENN_X', 42), (e: Error) => e.message === `WRENN_X must be an integer ≥ 0, got ${JSON.stringify(bad)}`, bad);
    }
    assert.throws(() => int({ WRENN_X: '59' }, 'WRENN_X', 42, 60), /WRENN_X must be an integer ≥ 60, got "59"/);
    assert.throws(() => int({ WRENN_X: '-1' }, 'WRENN_X', 42), /≥ 0/);
  });

  test('intFrom reads a value from anywhere (a command-line option) under its own name', () => {
    assert.equal(intFrom('--port', '49983', 1), 49983);
    assert.throws(() => intFrom('--port', 'http', 1), /--port must be an integer/);
  });
});
