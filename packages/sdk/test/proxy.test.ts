/**
 * The SDK's capsule-port helper: the URL and headers it gives (both forms), and a request
 * made with them reaching a server in a real capsule through the control plane's proxy.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startControlPlane, seedTeam, type SeededTeam, type TestControlPlane } from '@wrenn/control-plane/testing';
import { Wrenn, capsulePort, capsulePortUrl } from '../src/index.js';

test('capsulePortUrl keeps the server’s scheme and port; capsulePort falls back to the header form', () => {
  assert.equal(capsulePortUrl('https://api.example.com', 'cl-abc', 3000, 'wrenn.example.com'), 'https://3000-cl-abc.wrenn.example.com');
  assert.equal(capsulePortUrl('http://127.0.0.1:8080/api', 'cl-abc', 49983, '.wrenn.test.'), 'http://49983-cl-abc.wrenn.test:8080');
  assert.deepEqual(capsulePort('http://127.0.0.1:8080/api', 'cl-abc', 3000), {
    url: 'http://127.0.0.1:8080',
    headers: { 'E2b-Sandbox-Id': 'cl-abc', 'E2b-Sandbox-Port': '3000' },
  });
  assert.deepEqual(capsulePort('http://127.0.0.1:8080', 'cl-abc', 3000, 'wrenn.test').headers, {});
  assert.throws(() => capsulePort('http://127.0.0.1:8080', 'cl-abc', 70000), RangeError);
});

describe('capsulePort against a real control plane', () => {
  let t: TestControlPlane;
  let team: SeededTeam;
  let capsuleId: string | undefined;

  before(async () => {
    t = await startControlPlane({ withAgent: true });
    team = await seedTeam(t.cp);
  });
  after(async () => {
    if (capsuleId) await new Wrenn({ baseUrl: t.url, apiKey: team.apiKey }).capsules.destroy(capsuleId).catch(() => {});
    await t?.close();
  });

  test('a request to the target it gives reaches a server in the capsule', async () => {
    const wrenn = new Wrenn({ baseUrl: t.url, apiKey: team.apiKey });
    capsuleId = (await wrenn.capsules.create({ memoryMb: 256 })).id;
    await wrenn.processes.start(capsuleId, { cmd: 'python3', args: ['-m', 'http.server', '8000', '--directory', '/etc'] });
    const { url, headers } = wrenn.capsulePort(capsuleId, 8000);
    let res: Response | undefined;
    for (const until = Date.now() + 10_000; Date.now() < until; await new Promise((r) => setTimeout(r, 100))) {
      res = await fetch(`${url}/hostname`, { headers });
      if (res.status === 200) break;
    }
    assert.equal(res?.status, 200);
    assert.ok((await res!.text()).trim().length > 0, 'the capsule’s /etc/hostname');
  });
});
