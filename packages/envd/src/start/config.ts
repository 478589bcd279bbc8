/** envd configuration: command-line flags win over environment variables over defaults. */
import { parseArgs } from 'node:util';
import { intFrom } from '@wrenn/shared';

export interface EnvdConfig {
  /** TCP port of the HTTP/Connect server. `--port`, WRENN_ENVD_PORT, default 49983. */
  readonly port: number;
  /** Listen address. `--host`, WRENN_ENVD_HOST, default 0.0.0.0. */
  readonly host: string;
  /** Where /init writes capsule metadata. WRENN_ENVD_RUN_DIR, default /run/wrenn. */
  readonly runDir: string;
  /** User for requests that name none, until /init sets one. WRENN_ENVD_DEFAULT_USER, default root. */
  readonly defaultUser: string;
  /** Per-process buffer of output not yet read by any client. WRENN_ENVD_OUTPUT_BUFFER_BYTES, default 4 MiB. */
  readonly outputBufferBytes: number;
  /** Port scan period. WRENN_ENVD_PORT_SCAN_MS, default 1000. */
  readonly portScanIntervalMs: number;
  /** Forward 127.0.0.1-only ports to the external interface. WRENN_ENVD_PORT_FORWARD, default true. */
  readonly portForwarding: boolean;
  /** cgroup root as seen inside the capsule. WRENN_ENVD_CGROUP_ROOT, default /sys/fs/cgroup. */
  readonly cgroupRoot: string;
  /** Filesystem whose usage /metrics reports. WRENN_ENVD_DISK_PATH, default /. */
  readonly diskPath: string;
  readonly logLevel: string;
}

export function loadConfig(argv: string[], env: NodeJS.ProcessEnv): EnvdConfig {
  const { values } = parseArgs({
    args: argv,
    options: { port: { type: 'string' }, host: { type: 'string' }, 'run-dir': { type: 'string' } },
    strict: true,
  });
  const port = intFrom('--port', values.port ?? env.WRENN_ENVD_PORT, 49983);
  if (port > 65535) throw new Error(`--port must be at most 65535, got ${port}`);
  return {
    port,
    host: values.host ?? env.WRENN_ENVD_HOST ?? '0.0.0.0',
    runDir: values['run-dir'] ?? env.WRENN_ENVD_RUN_DIR ?? '/run/wrenn',
    defaultUser: env.WRENN_ENVD_DEFAULT_USER || 'root',
    outputBufferBytes: intFrom('WRENN_ENVD_OUTPUT_BUFFER_BYTES', env.WRENN_ENVD_OUTPUT_BUFFER_BYTES, 4 * 1024 * 1024),
    portScanIntervalMs: intFrom('WRENN_ENVD_PORT_SCAN_MS', env.WRENN_ENVD_PORT_SCAN_MS, 1000),
    portForwarding: (env.WRENN_ENVD_PORT_FORWARD ?? 'true') !== 'false',
    cgroupRoot: env.WRENN_ENVD_CGROUP_ROOT ?? '/sys/fs/cgroup',
    diskPath: env.WRENN_ENVD_DISK_PATH ?? '/',
    logLevel: env.WRENN_LOG_LEVEL ?? 'info',
  };
}
