/**
 * Fixtures for host tests: a real test agent linked to the control plane through the real
 * registration flow (ControlPlaneLink: register, save credentials, heartbeat), capsules
 * created for real on that agent, and a poll helper.
 */
import { silentLogger, createLogger } from '@wrenn/shared';
import { ControlPlaneLink, hostFacts, AGENT_VERSION } from '@wrenn/host-agent';
import type { TestAgent } from '@wrenn/host-agent/testing';
import type { TestControlPlane, SeededTeam } from './harness.js';
import { newId } from '../src/domain/ids.js';
import type { CapsuleStatus } from '../src/db/schema.js';

export function linkLogger() {
  return process.env.WRENN_TEST_LOGS ? createLogger({ name: 'link-test', level: 'debug' }) : silentLogger();
}

/** A link for the test agent as `wrenn-agent --register` would make it; heartbeats every `heartbeatMs`. */
export function linkFor(
  t: { url: string },
  ta: TestAgent,
  opts: { registerToken?: string; heartbeatMs?: number; controlPlaneUrl?: string; dataDir?: string; proxyUrl?: string } = {},
): ControlPlaneLink {
  return new ControlPlaneLink({
    dataDir: opts.dataDir ?? ta.dataDir,
    controlPlaneUrl: opts.controlPlaneUrl ?? t.url,
    ...(opts.registerToken ? { registerToken: opts.registerToken } : {}),
    advertiseUrl: `http://127.0.0.1:${ta.agent.port}`,
    ...(opts.proxyUrl ? { proxyUrl: opts.proxyUrl } : {}),
    agentToken: ta.agent.token,
    version: AGENT_VERSION,
    heartbeatMs: opts.heartbeatMs ?? 200,
    retryMinMs: 100,
    retryMaxMs: 500,
    // Read at call time: after restart() the harness holds a new agent.
    facts: () => hostFacts(ta.config, () => ta.agent.manager.list().length, () => ({ waiting: ta.agent.admission.queued, active: ta.agent.admission.active })),
    logger: linkLogger(),
  });
}

/** Creates a host through the API (admin JWT) and returns its id and registration token. */
export async function createHostViaApi(t: TestControlPlane, adminJwt: string, name = 'test host'): Promise<{ hostId: string; token: string }> {
  const r = await t.api('POST', '/v1/hosts', { auth: adminJwt, body: { name } });
  if (r.status !== 201) throw new Error(`POST /v1/hosts: ${r.status} ${JSON.stringify(r.body)}`);
  return { hostId: r.body.host.id, token: r.body.registration_token };
}

export async function waitFor<T>(what: string, probe: () => Promise<T | undefined | false>, timeoutMs = 10_000, everyMs = 50): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v) return v;
    if (Date.now() > until) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** A capsule row as the capsules API would write it (the API itself is not under test here). */
export async function insertCapsuleRow(t: TestControlPlane, team: SeededTeam, hostId: string | null, status: CapsuleStatus, id = newId('cl')): Promise<string> {
  await t.cp.ctx.db
    .insertInto('capsules')
    .values({ id, team_id: team.teamId, host_id: hostId, template: 'minimal', status, vcpus: 1, memory_mb: 256, disk_size_mb: 0, timeout_sec: 0, metadata: '{}' })
    .execute();
  return id;
}

/** A real capsule on the agent, straight through its RPC (the control plane does not know it). */
export async function createOnAgent(ta: TestAgent, id = newId('cl')): Promise<string> {
  await ta.client.create({ capsuleId: id, template: 'minimal', vcpus: 1, memoryMb: 256 });
  return id;
}

export async function capsuleRow(t: TestControlPlane, id: string) {
  return t.cp.ctx.db.selectFrom('capsules').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
}

export async function hostRow(t: TestControlPlane, id: string) {
  return t.cp.ctx.db.selectFrom('hosts').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
}
