import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SecretBox } from './secret-box.js';

test('SecretBox opens what it sealed, with the same key and row only', () => {
  const box = new SecretBox('server-secret', 'tests');
  const sealed = box.seal('value ✓', 'team-a/sec-1');
  assert.ok(!sealed.includes('value'));
  assert.notEqual(box.seal('value ✓', 'team-a/sec-1'), sealed, 'a fresh nonce each time');
  assert.equal(box.open(sealed, 'team-a/sec-1'), 'value ✓');
  assert.throws(() => box.open(sealed, 'team-b/sec-1'), /cannot be decrypted/);
  assert.throws(() => new SecretBox('other-secret', 'tests').open(sealed, 'team-a/sec-1'), /cannot be decrypted/);
  assert.throws(() => new SecretBox('server-secret', 'other purpose').open(sealed, 'team-a/sec-1'), /cannot be decrypted/);
});
