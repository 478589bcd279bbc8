/** Accounts and management: `wrenn.auth`, `wrenn.apiKeys`, `wrenn.hosts`, `wrenn.templates`. */
import type { CallOptions, Transport } from '../http.js';
import { compact } from '../case.js';
import type { ApiKeyInfo, AuthResult, CreatedApiKey, CreatedHost, Host, Template } from '../types.js';

const enc = encodeURIComponent;

/** A list response: a bare array, or the first array under one of `keys` (camelCased). */
function listOf<T>(res: unknown, ...keys: string[]): T[] {
  if (Array.isArray(res)) return res as T[];
  for (const key of keys) {
    const v = (res as Record<string, unknown> | undefined)?.[key];
    if (Array.isArray(v)) return v as T[];
  }
  return [];
}

export class AuthApi {
  constructor(private readonly http: Transport) {}

  /**
   * Logs in and returns a user token (JWT, 6 h).
   * @example const { token } = await new Wrenn({ baseUrl }).auth.login({ email, password }); const me = new Wrenn({ baseUrl, token });
   */
  login(body: { email: string; password: string }, call: CallOptions = {}): Promise<AuthResult> {
    return this.http.json<AuthResult>('POST', '/auth/login', { ...call, json: body });
  }

  /** Creates an account (and its team) and returns a user token. */
  signup(body: { email: string; password: string; name?: string }, call: CallOptions = {}): Promise<AuthResult> {
    return this.http.json<AuthResult>('POST', '/auth/signup', { ...call, json: compact(body) });
  }
}

/** API keys of the current team (needs a user token). */
export class ApiKeysApi {
  constructor(private readonly http: Transport) {}

  /** The key itself is in the result only: store it. */
  create(opts: { name: string }, call: CallOptions = {}): Promise<CreatedApiKey> {
    return this.http.json<CreatedApiKey>('POST', '/api-keys', { ...call, json: { name: opts.name } });
  }

  async list(call: CallOptions = {}): Promise<ApiKeyInfo[]> {
    return listOf<ApiKeyInfo>(await this.http.json('GET', '/api-keys', call), 'apiKeys');
  }

  async revoke(id: string, call: CallOptions = {}): Promise<void> {
    await this.http.json<void>('DELETE', `/api-keys/${enc(id)}`, call);
  }
}

/** Hosts (needs a user token; creating one needs an administrator). */
export class HostsApi {
  constructor(private readonly http: Transport) {}

  /** A host record and its one-time registration token for `wrenn-agent --register`. */
  create(opts: { name: string }, call: CallOptions = {}): Promise<CreatedHost> {
    return this.http.json<CreatedHost>('POST', '/hosts', { ...call, json: { name: opts.name } });
  }

  async list(call: CallOptions = {}): Promise<Host[]> {
    return listOf<Host>(await this.http.json('GET', '/hosts', call), 'hosts');
  }

  get(id: string, call: CallOptions = {}): Promise<Host> {
    return this.http.json<Host>('GET', `/hosts/${enc(id)}`, call);
  }

  async delete(id: string, call: CallOptions = {}): Promise<void> {
    await this.http.json<void>('DELETE', `/hosts/${enc(id)}`, call);
  }
}

/** Templates capsules can start from: platform base templates and the team's snapshots. */
export class TemplatesApi {
  constructor(private readonly http: Transport) {}

  async list(opts: CallOptions & { type?: 'base' | 'snapshot' } = {}): Promise<Template[]> {
    const { type, ...call } = opts;
    const res = await this.http.json<unknown>('GET', '/snapshots', { ...call, ...(type ? { query: { type } } : {}) });
    return listOf<Template>(res, 'templates', 'snapshots');
  }

  /**
   * Saves a running capsule, memory included, as a team template (the capsule keeps
   * running); capsules created from it start from that memory. `overwrite` replaces a
   * snapshot of the same name.
   */
  snapshot(capsuleId: string, opts: CallOptions & { name?: string; overwrite?: boolean } = {}): Promise<Template> {
    const { name, overwrite, ...call } = opts;
    return this.http.json<Template>('POST', '/snapshots', {
      ...call,
      json: { sandbox_id: capsuleId, ...(name ? { name } : {}) },
      ...(overwrite ? { query: { overwrite: 'true' } } : {}),
    });
  }

  async delete(name: string, call: CallOptions = {}): Promise<void> {
    await this.http.json<void>('DELETE', `/snapshots/${enc(name)}`, call);
  }
}
