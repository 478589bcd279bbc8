/**
 * A first look at a running host agent: creates a capsule, runs a few commands in it,
 * writes and reads a file, and destroys it, printing timings. Reads the agent's token and
 * address from WRENN_DATA_DIR (default /var/lib/wrenn) and WRENN_AGENT_PORT.
 *
 *   sudo npx tsx scripts/agent-demo.ts [--template minimal] [--keep]
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { randomBytes } from 'node:crypto';
import { createClient } from '@connectrpc/connect';
import { createConnectTransport } from '@connectrpc/connect-node';
import { HostAgentService } from '@wrenn/proto/hostagent';

const { values } = parseArgs({ options: { template: { type: 'string', default: 'minimal' }, keep: { type: 'boolean', default: false } } });
const dataDir = process.env.WRENN_DATA_DIR || '/var/lib/wrenn';
const token = process.env.WRENN_AGENT_TOKEN || readFileSync(join(dataDir, 'agent-token'), 'utf8').trim();
const port = process.env.WRENN_AGENT_PORT || '50052';
const client = createClient(
  HostAgentService,
  createConnectTransport({
    baseUrl: `http://${process.env.WRENN_AGENT_HOST || '127.0.0.1'}:${port}`,
    httpVersion: '2',
    interceptors: [(next) => async (req) => (req.header.set('authorization', `Bearer ${token}`), next(req))],
  }),
);

const health = await client.health({});
console.log(`agent ${health.hostId} (${health.runtime}, cgroup ${health.cgroupMode}), ${health.capsules} capsules running`);
const id = `cl-demo${randomBytes(3).toString('hex')}`;
let t = performance.now();
const created = await client.create({ capsuleId: id, template: values.template!, vcpus: 1, memoryMb: 512, envs: { HELLO: 'from wrenn' } });
console.log(`created ${id} at ${created.capsule?.address} in ${(performance.now() - t).toFixed(0)} ms${created.capsule?.fromWarmPool ? ' (warm pool)' : ''}`);
try {
  t = performance.now();
  const r = await client.exec({ capsuleId: id, cmd: '/bin/sh', args: ['-c', 'echo "$HELLO"; id; uname -sr; cat /etc/os-release 2>/dev/null | head -1'] });
  console.log(`exec in ${(performance.now() - t).toFixed(0)} ms, exit ${r.exitCode}:\n${Buffer.from(r.stdout).toString().replace(/^/gm, '  ')}`);
  async function* upload() {
    yield { part: { case: 'header' as const, value: { capsuleId: id, path: '~/hello.txt' } } };
    yield { part: { case: 'chunk' as const, value: Buffer.from('written from the host\n') } };
  }
  const w = await client.writeFile(upload());
  let content = '';
  for await (const c of client.readFile({ capsuleId: id, path: w.path })) content += Buffer.from(c.chunk).toString();
  console.log(`wrote and read back ${w.path}: ${content.trim()}`);
} finally {
  if (!values.keep) {
    await client.destroy({ capsuleId: id });
    console.log(`destroyed ${id}`);
  }
}
