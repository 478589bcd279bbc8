import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { Utf8Chunker, incompleteUtf8Tail } from '../src/ws/utf8-chunker.js';

describe('stream output encoding (UTF-8 text, base64 for binary)', () => {
  test('a character split across chunks is held back and sent whole as text', () => {
    const bytes = Buffer.from('aé€😀z', 'utf8');
    const c = new Utf8Chunker();
    const parts: string[] = [];
    for (const b of bytes) {
      const p = c.push(Buffer.from([b]));
      if (p) {
        assert.equal(p.encoding, 'utf-8');
        parts.push(p.data);
      }
    }
    assert.equal(c.flush(), undefined);
    assert.equal(parts.join(''), 'aé€😀z');
  });

  test('bytes that are not UTF-8 are sent as base64, losslessly', () => {
    const c = new Utf8Chunker();
    const p = c.push(Buffer.from([0x66, 0xff, 0xfe, 0x00]));
    assert.deepEqual(p && { ...p, data: [...Buffer.from(p.data, 'base64')] }, { encoding: 'base64', data: [0x66, 0xff, 0xfe, 0x00] });
  });

  test('an unfinished character at the end of the stream is flushed as base64', () => {
    const c = new Utf8Chunker();
    assert.deepEqual(c.push(Buffer.from([0x61, 0xe2, 0x82])), { data: 'a', encoding: 'utf-8' });
    const rest = c.flush();
    assert.equal(rest?.encoding, 'base64');
    assert.deepEqual([...Buffer.from(rest!.data, 'base64')], [0xe2, 0x82]);
  });

  test('incompleteUtf8Tail finds only genuinely unfinished sequences', () => {
    assert.equal(incompleteUtf8Tail(Buffer.from('abc')), 0);
    assert.equal(incompleteUtf8Tail(Buffer.from('é')), 0);
    assert.equal(incompleteUtf8Tail(Buffer.from([0xf0, 0x9f, 0x98])), 3);
    assert.equal(incompleteUtf8Tail(Buffer.from([0x61, 0xc3])), 1);
    assert.equal(incompleteUtf8Tail(Buffer.from([0x80, 0x80, 0x80])), 0);
  });
});
