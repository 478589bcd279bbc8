import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Code, ConnectError, createRouterTransport } from '@connectrpc/connect';
import { HostAgentService } from '@wrenn/proto/hostagent';
import { WrennError } from '@wrenn/shared';
import { connectErrorInterceptor, createWrennClient } from '@wrenn/shared/connect';
import { fromAgentError } from './agent-pool.js';

/**
 * An agent answered in-process (Connect's router transport: the same encoding and
 * interceptors as over HTTP/2, no socket), whose Get throws `thrown` and whose ExecStream
 * fails after one event.
 */
function agentThrowing(thrown: unknown) {
  const transport = createRouterTransport(
    (router) =>
      router.service(HostAgentService, {
        get() {
          throw thrown;
        },
        async *execStream() {
          yield { event: { case: 'startedPid' as const, value: 1 } };
          throw thrown;
        },
      }),
    { router: { interceptors: [connectErrorInterceptor()] } },
  );
  return createWrennClient(HostAgentService, transport, fromAgentError);
}

describe('agent client errors', () => {
  test("the agent's precise code survives the trip (unary)", async () => {
    const client = agentThrowing(new WrennError('capsule_not_found', 'capsule cl-1 is not on this host'));
    await assert.rejects(client.get({ capsuleId: 'cl-1' }), (err: unknown) => err instanceof WrennError && err.code === 'capsule_not_found' && /cl-1/.test(err.message));
  });

  test('a failure in the middle of a stream is decoded too', async () => {
    const client = agentThrowing(new WrennError('process_not_found', 'gone'));
    const seen: string[] = [];
    await assert.rejects(
      (async () => {
        for await (const e of client.execStream({ capsuleId: 'cl-1', cmd: 'true' })) seen.push(e.event.case ?? '');
      })(),
      (err: unknown) => err instanceof WrennError && err.code === 'process_not_found',
    );
    assert.deepEqual(seen, ['startedPid']);
  });

  test('a Connect error without a Wrenn code gets the registry code of its status', async () => {
    const client = agentThrowing(new ConnectError('no such RPC here', Code.Unimplemented));
    await assert.rejects(client.get({ capsuleId: 'cl-1' }), (err: unknown) => err instanceof WrennError && err.code === 'not_implemented');
  });

  test("an agent refusing the control plane's token is unavailable, not the caller's 401", async () => {
    const client = agentThrowing(new ConnectError('missing or wrong host token', Code.Unauthenticated));
    await assert.rejects(client.get({ capsuleId: 'cl-1' }), (err: unknown) => err instanceof WrennError && err.code === 'unavailable' && /host token mismatch/.test(err.message));
  });
});
