/**
 * The host agent as its own process, as shipped: the compiled entry (bin/wrenn-agent.mjs)
 * under plain node, on a test identity (data dir, names, network of its own). Used where a
 * test needs what only a separate process has: a PID to kill, a service-style stop.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';
import { createClient, type Client } from '@connectrpc/connect';
import { createConnectTransport } from '@connectrpc/connect-node';
import { HostAgentService } from '@wrenn/proto/hostagent';
import { run } from '../src/infra/exec.js';
// agent-harness re-exports this module: its REPO is not initialised yet when this one runs.
import { removeTestIdentity, type testAgentIdentity } from './agent-harness.js';

export const AGENT_BIN = resolve(import.meta.dirname, '../bin/wrenn-agent.mjs');

export interface AgentProcess {
  child: ChildProcess;
  port: number;
  client: Client<typeof HostAgentService>;
}

type Identity = ReturnType<typeof testAgentIdentity>;

/** Starts the compiled agent; resolves once it listens. `args`: e.g. --register TOKEN --control-plane URL. */
export async function startAgentProcess(id: Identity, opts: { args?: string[]; env?: Record<string, string> } = {}): Promise<AgentProcess> {
  const child = spawn(process.execPath, [AGENT_BIN, ...(opts.args ?? [])], {
    env: { ...process.env, ...id.env, WRENN_SKIP_TEMPLATE_BUILD: '1', WRENN_LAZY_RESTORE: 'off', WRENN_LOG_LEVEL: 'warn', ...opts.env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`the compiled agent did not start in 30 s: ${out}`)), 30_000);
    child.stdout!.on('data', (b: Buffer) => {
      out += b.toString();
      const m = /listening on [\d.]+:(\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`the compiled agent exited early (${code}): ${out}`));
    });
  });
  child.stdout!.resume();
  const client = createClient(
    HostAgentService,
    createConnectTransport({
      baseUrl: `http://127.0.0.1:${port}`,
      httpVersion: '2',
      interceptors: [(next) => async (req) => (req.header.set('authorization', `Bearer ${id.env.WRENN_AGENT_TOKEN}`), next(req))],
    }),
  );
  return { child, port, client };
}

export function processExited(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  return new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
}

/** Stops the process if it runs, then removes what its identity left (nftables table, cgroups, data dir, network claim). */
export async function removeAgentProcess(p: AgentProcess | undefined, id: Identity): Promise<void> {
  if (p && p.child.exitCode === null && p.child.signalCode === null) {
    p.child.kill('SIGTERM');
    await processExited(p.child);
  }
  await run('nft', ['delete', 'table', 'inet', id.nftTable], { allowFailure: true });
  await removeTestIdentity(id);
}
