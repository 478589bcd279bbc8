/**
 * Test fixture: a real envd on 127.0.0.1 (ephemeral port) in this process, a private
 * /etc with a root and an unprivileged test user, and Connect clients for both services.
 * `close()` kills every process envd started and removes the temp dirs; tests call it in
 * `after`/`finally` so nothing outlives a failing test.
 */
import { mkdtempSync, mkdirSync, writeFileSync, rmSync, chownSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClient, type Client } from '@connectrpc/connect';
import { createConnectTransport } from '@connectrpc/connect-node';
import { Process } from '@wrenn/proto/process';
import { Filesystem } from '@wrenn/proto/filesystem';
import { silentLogger, createLogger } from '@wrenn/shared';
import { createEnvd, type Envd } from '../src/server.js';
import { loadConfig, type EnvdConfig } from '../src/start/config.js';

/** uid/gid of the unprivileged user the fixture's /etc/passwd defines (not a host user). */
export const TEST_UID = 23456;
export const TEST_GID = 23456;
export const TEST_USER = 'tester';

export interface TestEnvd {
  readonly envd: Envd;
  readonly port: number;
  readonly baseUrl: string;
  /** Temp root holding etc/, run/ and the test user's home. */
  readonly root: string;
  readonly testHome: string;
  readonly process: Client<typeof Process>;
  readonly fs: Client<typeof Filesystem>;
  /** Clients speaking the JSON codec instead of binary protobuf. */
  readonly processJson: Client<typeof Process>;
  readonly fsJson: Client<typeof Filesystem>;
  /** fetch against envd; relative paths are resolved against baseUrl. */
  fetch(path: string, init?: RequestInit): Promise<Response>;
  /** Headers selecting a user through Basic auth (plus the access token when set). */
  headersFor(user?: string): Record<string, string>;
  accessToken: string | undefined;
  close(): Promise<void>;
}

export function basicAuth(user: string): string {
  return `Basic ${Buffer.from(`${user}:`).toString('base64')}`;
}

export async function startEnvd(opts: { env?: Record<string, string>; logs?: boolean } = {}): Promise<TestEnvd> {
  const root = mkdtempSync(join(tmpdir(), 'wrenn-envd-test-'));
  // mkdtemp makes it 0700: the test user must be able to traverse it to reach its home.
  chmodSync(root, 0o755);
  const etc = join(root, 'etc');
  const testHome = join(root, 'home', TEST_USER);
  mkdirSync(etc, { recursive: true });
  mkdirSync(testHome, { recursive: true, mode: 0o755 });
  chownSync(testHome, TEST_UID, TEST_GID);
  writeFileSync(
    join(etc, 'passwd'),
    `root:x:0:0:root:/root:/bin/bash\n${TEST_USER}:x:${TEST_UID}:${TEST_GID}:Test User:${testHome}:/bin/bash\n`,
  );
  writeFileSync(join(etc, 'group'), `root:x:0:\n${TEST_USER}:x:${TEST_GID}:\n`);

  const config: EnvdConfig = {
    ...loadConfig(['--port', '0', '--host', '127.0.0.1', '--run-dir', join(root, 'run')], {
      WRENN_ENVD_PORT_SCAN_MS: '200',
      // Off unless a test asks: the test envd shares the host's network namespace, and its
      // forwarder would expose other processes' 127.0.0.1 ports on the host's interface.
      WRENN_ENVD_PORT_FORWARD: 'false',
      ...opts.env,
    }),
  };
  const logger = opts.logs ? createLogger({ name: 'envd-test', level: 'debug' }) : silentLogger();
  const envd = createEnvd(config, logger, etc);
  const port = await envd.listen();
  const baseUrl = `http://127.0.0.1:${port}`;

  const t: TestEnvd = {
    envd,
    port,
    baseUrl,
    root,
    testHome,
    accessToken: undefined,
    process: undefined as never,
    fs: undefined as never,
    processJson: undefined as never,
    fsJson: undefined as never,
    headersFor(user?: string) {
      const h: Record<string, string> = {};
      if (user) h.authorization = basicAuth(user);
      if (t.accessToken) h['x-access-token'] = t.accessToken;
      return h;
    },
    fetch(path: string, init?: RequestInit) {
      return fetch(new URL(path, baseUrl), init);
    },
    async close() {
      await envd.close();
      rmSync(root, { recursive: true, force: true });
    },
  };
  // The token is read per call so tests can set it after /init.
  const interceptors = [
    (next: (req: any) => Promise<any>) => async (req: any) => {
      if (t.accessToken) req.header.set('x-access-token', t.accessToken);
      return next(req);
    },
  ];
  const binary = createConnectTransport({ baseUrl, httpVersion: '1.1', useBinaryFormat: true, interceptors });
  const json = createConnectTransport({ baseUrl, httpVersion: '1.1', useBinaryFormat: false, interceptors });
  Object.assign(t, {
    process: createClient(Process, binary),
    fs: createClient(Filesystem, binary),
    processJson: createClient(Process, json),
    fsJson: createClient(Filesystem, json),
  });
  return t;
}

/** Call options selecting the acting user for an RPC. */
export function asUser(user: string): { headers: Record<string, string> } {
  return { headers: { authorization: basicAuth(user) } };
}
