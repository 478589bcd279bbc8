/** Agent configuration of the hardening knobs: egress allow list and start concurrency. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadAgentConfig } from './config.js';

test('WRENN_EGRESS_ALLOW: CIDRs and addresses, normalised; anything else names the variable', () => {
  assert.deepEqual(loadAgentConfig({}).egressAllow, []);
  assert.deepEqual(loadAgentConfig({ WRENN_EGRESS_ALLOW: ' 10.1.2.3, 192.168.0.0/16 ' }).egressAllow, ['10.1.2.3/32', '192.168.0.0/16']);
  assert.throws(() => loadAgentConfig({ WRENN_EGRESS_ALLOW: '10.1.2.3/8' }), /WRENN_EGRESS_ALLOW/);
  assert.throws(() => loadAgentConfig({ WRENN_EGRESS_ALLOW: 'intranet.example' }), /WRENN_EGRESS_ALLOW/);
});

test('WRENN_START_CONCURRENCY defaults to the cores and must be ≥ 1', () => {
  assert.equal(loadAgentConfig({ WRENN_VCPUS_TOTAL: '6' }).startConcurrency, 6);
  assert.equal(loadAgentConfig({ WRENN_VCPUS_TOTAL: '6', WRENN_START_CONCURRENCY: '2' }).startConcurrency, 2);
  assert.throws(() => loadAgentConfig({ WRENN_START_CONCURRENCY: '0' }), /WRENN_START_CONCURRENCY/);
});
