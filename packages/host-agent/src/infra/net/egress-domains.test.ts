/** Egress lists with domain names: what is accepted, normalised and refused. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkedEgressRules, cidrsOf, domainsOf, isDomainEntry } from './egress-domains.js';

test('addresses become CIDRs, names are lower-cased; names only in allowOut', () => {
  const r = checkedEgressRules({ denyOut: ['0.0.0.0/0', '203.0.113.7'], allowOut: ['Example.COM.', '198.51.100.0/24', 'example.com'] });
  assert.deepEqual(r, { denyOut: ['0.0.0.0/0', '203.0.113.7/32'], allowOut: ['example.com', '198.51.100.0/24'] });
  assert.deepEqual(domainsOf(r), ['example.com']);
  assert.deepEqual(cidrsOf(r.allowOut), ['198.51.100.0/24']);
});

test('wildcards, names in deny lists, bad CIDRs and IPv6 are invalid_argument naming the entry', () => {
  assert.throws(() => checkedEgressRules({ denyOut: [], allowOut: ['*.example.com'] }), /allow_out: "\*\.example\.com": wildcard/);
  assert.throws(() => checkedEgressRules({ denyOut: ['example.com'], allowOut: [] }), /deny_out: "example\.com": domain names/);
  assert.throws(() => checkedEgressRules({ denyOut: ['10.0.0.1/8'], allowOut: [] }), /deny_out: "10\.0\.0\.1\/8"/);
  assert.throws(() => checkedEgressRules({ denyOut: [], allowOut: ['2001:db8::1'] }), /allow_out/);
  assert.throws(() => checkedEgressRules({ denyOut: [], allowOut: ['999.1.1.1'] }), /allow_out/);
  assert.equal(isDomainEntry('10.1.2.3'), false);
  assert.equal(isDomainEntry('localhost'), true);
});
