/**
 * Template builds: recipes or Dockerfiles run in a build capsule and saved as a template
 * (`/builds` for a team's own templates; `admin: true` for platform templates through
 * `/admin/builds`, administrators only).
 *
 * @example
 * const build = await wrenn.builds.create({ name: 'py', recipe: ['RUN pip install numpy'] });
 * for await (const b of wrenn.builds.watch(build.id)) console.log(b.status, b.currentStep, '/', b.totalSteps);
 */
import type { CallOptions, Transport } from '../http.js';
import { camelize } from '../case.js';
import { WrennApiError } from '../errors.js';
import type { Build, BuildTemplate } from '../types.js';

export interface CreateBuildOptions extends CallOptions {
  name: string;
  /** Recipe lines (RUN, START, ENV, WORKDIR, USER, COPY); or `dockerfile`. */
  recipe?: string[];
  /** Dockerfile text (FROM names the base template). */
  dockerfile?: string;
  baseTemplate?: string;
  healthcheck?: string;
  vcpus?: number;
  memoryMb?: number;
  skipPrePost?: boolean;
  /** Build context for COPY: a tar, tar.gz or zip archive. */
  archive?: Uint8Array;
  /** Administrators: build a platform template (`/admin/builds`). */
  admin?: boolean;
}

const FINAL = new Set(['success', 'failed', 'cancelled']);
const enc = encodeURIComponent;

export class BuildsApi {
  constructor(private readonly http: Transport) {}

  private prefix(admin?: boolean): string {
    return admin ? '/admin' : '';
  }

  async create(opts: CreateBuildOptions): Promise<Build> {
    const { name, recipe, dockerfile, baseTemplate, healthcheck, vcpus, memoryMb, skipPrePost, archive, admin, ...call } = opts;
    const config = {
      name,
      ...(recipe ? { recipe } : {}),
      ...(dockerfile !== undefined ? { dockerfile } : {}),
      ...(baseTemplate ? { base_template: baseTemplate } : {}),
      ...(healthcheck ? { healthcheck } : {}),
      ...(vcpus !== undefined ? { vcpus } : {}),
      ...(memoryMb !== undefined ? { memory_mb: memoryMb } : {}),
      ...(skipPrePost !== undefined ? { skip_pre_post: skipPrePost } : {}),
    };
    const path = `${this.prefix(admin)}/builds`;
    if (!archive) return this.http.json<Build>('POST', path, { ...call, json: config });
    const form = new FormData();
    form.append('config', JSON.stringify(config));
    form.append('archive', new Blob([archive]), 'context');
    const res = await this.http.raw('POST', path, { ...call, body: form });
    return camelize<Build>(await res.json());
  }

  list(opts: CallOptions & { admin?: boolean; limit?: number } = {}): Promise<Build[]> {
    const { admin, limit, ...call } = opts;
    return this.http.json<Build[]>('GET', `${this.prefix(admin)}/builds`, { ...call, ...(limit ? { query: { limit } } : {}) });
  }

  get(id: string, opts: CallOptions & { admin?: boolean } = {}): Promise<Build> {
    const { admin, ...call } = opts;
    return this.http.json<Build>('GET', `${this.prefix(admin)}/builds/${enc(id)}`, call);
  }

  async cancel(id: string, opts: CallOptions & { admin?: boolean } = {}): Promise<void> {
    const { admin, ...call } = opts;
    await this.http.json<void>('POST', `${this.prefix(admin)}/builds/${enc(id)}/cancel`, call);
  }

  /**
   * The build on every change (Server-Sent Events), ending with its final state. The
   * stream is cut by `signal`; a build that already ended yields once.
   */
  async *watch(id: string, opts: CallOptions & { admin?: boolean } = {}): AsyncGenerator<Build> {
    const { admin, ...call } = opts;
    const res = await this.http.raw('GET', `${this.prefix(admin)}/builds/${enc(id)}/events`, { ...call, headers: { accept: 'text/event-stream' } });
    if (!res.body) throw new WrennApiError(0, 'internal', 'the build event stream has no body');
    const decoder = new TextDecoder();
    let buffer = '';
    let last: Build | undefined;
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      buffer += decoder.decode(chunk, { stream: true });
      let end: number;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const event = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const data = event.split('\n').filter((l) => l.startsWith('data: ')).map((l) => l.slice(6)).join('\n');
        if (!event.startsWith('event: build') || !data) continue;
        last = camelize<Build>(JSON.parse(data));
        yield last;
      }
    }
    if (!last || !FINAL.has(last.status)) yield await this.get(id, { ...(admin ? { admin } : {}) });
  }

  /** Templates: the hosts' base templates, platform templates and the team's own builds. */
  templates(opts: CallOptions & { admin?: boolean } = {}): Promise<BuildTemplate[]> {
    const { admin, ...call } = opts;
    return this.http.json<BuildTemplate[]>('GET', `${this.prefix(admin)}/templates`, call);
  }

  /** Deletes a built (or snapshot) template; 409 while a capsule or build uses it. */
  async deleteTemplate(name: string, opts: CallOptions & { admin?: boolean } = {}): Promise<void> {
    const { admin, ...call } = opts;
    await this.http.json<void>('DELETE', `${this.prefix(admin)}/templates/${enc(name)}`, call);
  }
}
