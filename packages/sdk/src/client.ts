/**
 * The Wrenn client: one object per server and credential.
 *
 * @example
 * const wrenn = new Wrenn({ baseUrl: 'http://127.0.0.1:8080', apiKey: process.env.WRENN_API_KEY });
 * const capsule = await wrenn.capsules.create();
 * const { stdout } = await wrenn.capsules.exec(capsule.id, { cmd: 'echo', args: ['hi'] });
 * await wrenn.capsules.destroy(capsule.id);
 */
import { Transport, type CallOptions, type TransportOptions } from './http.js';
import { CapsulesApi } from './api/capsules.js';
import { FilesApi } from './api/files.js';
import { ProcessesApi } from './api/processes.js';
import { ApiKeysApi, AuthApi, HostsApi, TemplatesApi } from './api/accounts.js';
import { BuildsApi } from './api/builds.js';
import { PtySession, type PtyOptions } from './ws/pty.js';
import { OutputStream, type ExecStreamOptions, type StreamListeners } from './ws/exec-stream.js';
import { capsulePort, type CapsulePortTarget } from './proxy.js';

export interface WrennOptions extends TransportOptions {
  /** The server's WRENN_PROXY_DOMAIN, if it has one: `capsulePort` then gives host-name URLs. */
  proxyDomain?: string;
}

export class Wrenn {
  readonly http: Transport;
  readonly capsules: CapsulesApi;
  readonly files: FilesApi;
  readonly processes: ProcessesApi & {
    /** Output of a background process (pid or tag) from now on. */
    stream(capsuleId: string, selector: number | string, opts?: CallOptions & StreamListeners): Promise<OutputStream>;
  };
  readonly auth: AuthApi;
  readonly apiKeys: ApiKeysApi;
  readonly hosts: HostsApi;
  readonly templates: TemplatesApi;
  /** Template builds (recipes, Dockerfiles) and the templates they make. */
  readonly builds: BuildsApi;
  private readonly proxyDomain: string | undefined;

  constructor(opts: WrennOptions) {
    this.proxyDomain = opts.proxyDomain;
    this.http = new Transport(opts);
    this.capsules = new CapsulesApi(this.http);
    this.files = new FilesApi(this.http);
    const processes = new ProcessesApi(this.http);
    this.processes = Object.assign(processes, {
      stream: (capsuleId: string, selector: number | string, o: CallOptions & StreamListeners = {}) => OutputStream.attach(this.http, capsuleId, selector, o),
    });
    this.auth = new AuthApi(this.http);
    this.apiKeys = new ApiKeysApi(this.http);
    this.hosts = new HostsApi(this.http);
    this.templates = new TemplatesApi(this.http);
    this.builds = new BuildsApi(this.http);
  }

  /** Opens (or, with `tag`, re-attaches to) an interactive terminal. */
  pty(capsuleId: string, opts: PtyOptions = {}): Promise<PtySession> {
    return PtySession.open(this.http, capsuleId, opts);
  }

  /** Runs a command with its output streamed as it is produced. */
  execStream(capsuleId: string, opts: ExecStreamOptions): Promise<OutputStream> {
    return OutputStream.exec(this.http, capsuleId, opts);
  }

  /**
   * How to reach `port` of a capsule through the server's port proxy: a URL (and, without a
   * `proxyDomain`, the headers that route it). No API key is needed for it; envd (port
   * 49983) still wants its access token.
   * @example
   * const { url, headers } = wrenn.capsulePort(capsule.id, 3000);
   * const page = await fetch(`${url}/`, { headers });
   */
  capsulePort(capsuleId: string, port: number): CapsulePortTarget {
    return capsulePort(this.http.baseUrl, capsuleId, port, this.proxyDomain);
  }

  /** Shorthand for `capsules.metrics`. */
  metrics(capsuleId: string, range?: Parameters<CapsulesApi['metrics']>[1], call?: CallOptions) {
    return this.capsules.metrics(capsuleId, range, call);
  }

  /** The server's liveness (`GET /health`, no credentials needed). */
  health(call: CallOptions = {}): Promise<{ status: string; version: string; [field: string]: unknown }> {
    return this.http.json('GET', '/health', { ...call, unversioned: true });
  }
}
