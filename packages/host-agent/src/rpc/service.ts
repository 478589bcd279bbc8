/**
 * hostagent.v1.HostAgentService: thin mapping from RPCs to the capsule manager and to the
 * capsule's envd. Validation of inputs happens here; state rules live in the domain.
 */
import { PassThrough } from 'node:stream';
import { statfs } from 'node:fs/promises';
import { freemem, totalmem } from 'node:os';
import type { ConnectRouter, HandlerContext } from '@connectrpc/connect';
import { HostAgentService, PauseKind } from '@wrenn/proto/hostagent';
import { WrennError } from '@wrenn/shared';
import type { CapsuleManager } from '../domain/capsule-manager.js';
import { METRICS_RANGES, type MetricsRange } from '../domain/metrics/tiers.js';
import { execCommand, mapEvents, newTag, startBackground, streamCommand } from '../domain/process-ops.js';
import { EnvdClient, fromEnvdError } from '../infra/envd/envd-client.js';
import type { AgentConfig } from '../start/config.js';
import { listedSnapshot } from '../domain/snapshot-templates/listing.js';
import { dirEntry, required, selectorOf, spec, toCapsule, toTemplate } from './convert.js';
import { Admission } from './admission.js';
import { flattenCapsuleRoot, type TemplateStore } from '../infra/template/index.js';
import { assertRunning } from '../domain/capsule-record.js';
import { CapsuleStore } from '../domain/capsule-store.js';
import { listedBase } from '../domain/snapshot-templates/listing.js';
import type { Logger } from '@wrenn/shared';
import type { Volumes } from '../domain/volumes.js';
import { volumeHandlers } from './volume-service.js';

export interface ServiceDeps {
  config: AgentConfig;
  manager: CapsuleManager;
  hostId: string;
  version: string;
  runtimeName: string;
  cgroupMode: string;
  /** Port of the proxy listener (0: none); the control plane learns it from Health. */
  proxyPort: number;
  /** Base templates (FlattenTemplate, DeleteBaseTemplate, a template's default env on Create). */
  templates: TemplateStore;
  /** Volumes of this host (absent: the volume calls answer not_implemented). */
  volumes?: Volumes;
  /** The start queue, shared with the heartbeat (its depth); default: one of its own. */
  admission?: Admission;
  logger: Logger;
}

/** Size of ReadFile messages (the last one may be smaller). */
const READ_MESSAGE_BYTES = 1024 * 1024;

export function registerHostAgentService(router: ConnectRouter, deps: ServiceDeps): void {
  const { manager } = deps;
  // Starts and restores wait for a turn (see admission.ts); their deadlines begin with it.
  const admission = deps.admission ?? new Admission(deps.config.startConcurrency);
  const envdOf = (id: string, op: string) => manager.envdOf(required(id, 'capsule_id'), op);
  const capsuleDirs = new CapsuleStore(deps.config.dataDir);

  router.service(HostAgentService, {
    async health() {
      const disk = await statfs(deps.config.dataDir).catch(() => undefined);
      return {
        hostId: deps.hostId,
        version: deps.version,
        runtime: deps.runtimeName,
        capsules: manager.list().length,
        vcpusTotal: deps.config.vcpusTotal,
        memoryTotalBytes: BigInt(totalmem()),
        memoryFreeBytes: BigInt(freemem()),
        diskFreeBytes: disk ? BigInt(disk.bavail) * BigInt(disk.bsize) : 0n,
        cgroupMode: deps.cgroupMode,
        proxyPort: deps.proxyPort,
      };
    },

    async create(req, ctx: HandlerContext) {
      // A base template's default environment (ENV of the build that made it) under the caller's.
      const base = await deps.templates.get(req.template || 'minimal').catch(() => undefined);
      const envs = base && Object.keys(base.defaultEnv).length > 0 ? { ...base.defaultEnv, ...req.envs } : req.envs;
      // Unset fields keep their wire value (0, '', absent): the defaults are the domain's (create-rules.ts).
      const request = {
        capsuleId: required(req.capsuleId, 'capsule_id'),
        template: req.template,
        vcpus: req.vcpus,
        memoryMb: req.memoryMb,
        diskSizeMb: req.diskSizeMb,
        envs,
        metadata: req.metadata,
        lifetimeSec: req.lifetimeSec,
        autoPauseSec: req.autoPauseSec,
        egress: req.egress,
        denyOut: req.denyOut,
        allowOut: req.allowOut,
        defaultUser: req.defaultUser,
        workdir: req.workdir,
        volumes: req.volumes.map((m) => ({ volumeId: required(m.volumeId, 'volume_id'), path: required(m.path, 'volume path') })),
      };
      // Starts wait for a turn on this host (admission.ts); their deadlines begin with it.
      const record = await admission.run(() => manager.create(request, ctx.signal), ctx.signal);
      return { capsule: toCapsule(record), envdAccessToken: record.envdAccessToken };
    },

    async setEgress(req) {
      const record = await manager.setEgress(required(req.capsuleId, 'capsule_id'), req.egress, { denyOut: req.denyOut, allowOut: req.allowOut });
      return { capsule: toCapsule(record) };
    },

    async destroy(req) {
      await manager.destroy(required(req.capsuleId, 'capsule_id'));
      return {};
    },

    async get(req) {
      return { capsule: toCapsule(manager.get(required(req.capsuleId, 'capsule_id'))) };
    },

    async list() {
      return { capsules: manager.list().map(toCapsule) };
    },

    async ping(req) {
      const envd = envdOf(req.capsuleId, 'ping');
      return { healthy: await envd.health() };
    },

    async exec(req) {
      const envd = envdOf(req.capsuleId, 'exec in');
      const timeoutMs = (req.timeoutSec || 30) * 1000;
      const r = await execCommand(envd, spec(req), timeoutMs, req.stdin);
      return { stdout: r.stdout, stderr: r.stderr, exitCode: r.exitCode, durationMs: r.durationMs, timedOut: r.timedOut };
    },

    async *execStream(req, ctx) {
      const envd = envdOf(req.capsuleId, 'exec in');
      for await (const ev of streamCommand(envd, spec(req), ctx.signal)) {
        if (ev.kind === 'started') yield { event: { case: 'startedPid', value: ev.pid } };
        else if (ev.kind === 'stdout' || ev.kind === 'pty') yield { event: { case: 'stdout', value: ev.data } };
        else if (ev.kind === 'stderr') yield { event: { case: 'stderr', value: ev.data } };
        else yield { event: { case: 'exitCode', value: ev.exitCode } };
      }
    },

    async startBackground(req) {
      const envd = envdOf(req.capsuleId, 'start a process in');
      return startBackground(envd, spec(req), req.tag);
    },

    async listProcesses(req) {
      const envd = envdOf(req.capsuleId, 'list processes of');
      try {
        const res = await envd.process.list({});
        return {
          processes: res.processes.map((p) => ({ pid: p.pid, tag: p.tag ?? '', cmd: p.config?.cmd ?? '', args: p.config?.args ?? [] })),
        };
      } catch (err) {
        throw fromEnvdError(err);
      }
    },

    async killProcess(req) {
      const envd = envdOf(req.capsuleId, 'kill a process in');
      const signal = req.signal || 'SIGTERM';
      if (signal !== 'SIGTERM' && signal !== 'SIGKILL') throw new WrennError('invalid_argument', `signal must be SIGTERM or SIGKILL, got ${signal}`);
      await envd.kill(selectorOf(req.process), signal);
      return {};
    },

    async *connectProcess(req, ctx) {
      const envd = envdOf(req.capsuleId, 'connect to a process in');
      const events = mapEvents(envd.process.connect({ process: envd.selector(selectorOf(req.process)) }, { signal: ctx.signal }));
      for await (const ev of events) {
        if (ev.kind === 'started') yield { event: { case: 'startedPid', value: ev.pid } };
        else if (ev.kind === 'stdout' || ev.kind === 'pty') yield { event: { case: 'stdout', value: ev.data } };
        else if (ev.kind === 'stderr') yield { event: { case: 'stderr', value: ev.data } };
        else yield { event: { case: 'exitCode', value: ev.exitCode } };
      }
    },

    async *ptyAttach(req, ctx) {
      const envd = envdOf(req.capsuleId, 'open a terminal in');
      let tag = req.tag;
      let events;
      if (tag) {
        events = mapEvents(envd.process.connect({ process: { selector: { case: 'tag', value: tag } } }, { signal: ctx.signal }));
      } else {
        tag = newTag('pty-');
        const cols = req.cols || 80;
        const rows = req.rows || 24;
        events = mapEvents(
          envd.process.start(
            {
              process: { cmd: req.cmd || '/bin/bash', args: req.cmd ? req.args : ['-l'], envs: req.envs, ...(req.cwd ? { cwd: req.cwd } : {}) },
              pty: { size: { cols, rows } },
              tag,
            },
            { headers: EnvdClient.userHeaders(req.user), signal: ctx.signal },
          ),
        );
      }
      for await (const ev of events) {
        if (ev.kind === 'started') yield { event: { case: 'started', value: { pid: ev.pid, tag } } };
        else if (ev.kind === 'exit') yield { event: { case: 'exitCode', value: ev.exitCode } };
        else yield { event: { case: 'output', value: ev.data } };
      }
    },

    async ptySendInput(req) {
      const envd = envdOf(req.capsuleId, 'type into a terminal of');
      try {
        await envd.process.sendInput({
          process: { selector: { case: 'tag', value: required(req.tag, 'tag') } },
          input: { input: { case: 'pty', value: req.data } },
        });
      } catch (err) {
        throw fromEnvdError(err);
      }
      return {};
    },

    async ptyResize(req) {
      const envd = envdOf(req.capsuleId, 'resize a terminal of');
      if (!req.cols || !req.rows) throw new WrennError('invalid_argument', 'cols and rows must be positive');
      try {
        await envd.process.update({
          process: { selector: { case: 'tag', value: required(req.tag, 'tag') } },
          pty: { size: { cols: req.cols, rows: req.rows } },
        });
      } catch (err) {
        throw fromEnvdError(err);
      }
      return {};
    },

    async ptyKill(req) {
      const envd = envdOf(req.capsuleId, 'kill a terminal of');
      await envd.kill({ tag: required(req.tag, 'tag') }, 'SIGKILL');
      return {};
    },

    async writeFile(requests) {
      let envd: EnvdClient | undefined;
      let path = '';
      let size = 0;
      const body = new PassThrough({ highWaterMark: 1024 * 1024 });
      let upload: Promise<import('node:http').IncomingMessage> | undefined;
      try {
        for await (const msg of requests) {
          if (msg.part.case === 'header') {
            if (envd) throw new WrennError('invalid_argument', 'WriteFile takes exactly one header, first');
            envd = envdOf(msg.part.value.capsuleId, 'write a file in');
            path = required(msg.part.value.path, 'path');
            const q = new URLSearchParams({ path, ...(msg.part.value.user ? { username: msg.part.value.user } : {}) });
            upload = envd.request('POST', `/files?${q}`, { headers: { 'content-type': 'application/octet-stream' }, body });
            upload.catch(() => {}); // observed below
          } else if (msg.part.case === 'chunk') {
            if (!envd) throw new WrennError('invalid_argument', 'WriteFile must start with a header naming the capsule and path');
            size += msg.part.value.length;
            if (!body.write(msg.part.value)) await new Promise((r) => body.once('drain', r));
          }
        }
        if (!envd || !upload) throw new WrennError('invalid_argument', 'WriteFile needs a header message');
        body.end();
        const res = await upload;
        const chunks: Buffer[] = [];
        for await (const c of res) chunks.push(c as Buffer);
        if ((res.statusCode ?? 500) >= 400) throw EnvdClient.httpError(res.statusCode ?? 500, Buffer.concat(chunks).toString('utf8'));
        const written = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Array<{ path: string }>;
        return { path: written[0]?.path ?? path, size: BigInt(size) };
      } catch (err) {
        body.destroy();
        throw err instanceof WrennError ? err : fromEnvdError(err);
      }
    },

    async *readFile(req, ctx) {
      const envd = envdOf(req.capsuleId, 'read a file in');
      const q = new URLSearchParams({ path: required(req.path, 'path'), ...(req.user ? { username: req.user } : {}) });
      const res = await envd.request('GET', `/files?${q}`, { signal: ctx.signal }).catch((err: unknown) => {
        throw fromEnvdError(err);
      });
      if ((res.statusCode ?? 500) >= 400) {
        const chunks: Buffer[] = [];
        for await (const c of res) chunks.push(c as Buffer);
        throw EnvdClient.httpError(res.statusCode ?? 500, Buffer.concat(chunks).toString('utf8'));
      }
      // Fewer, larger messages: per-message cost dominates a stream of 64 KiB socket reads.
      let pending: Buffer[] = [];
      let pendingBytes = 0;
      for await (const chunk of res) {
        pending.push(chunk as Buffer);
        pendingBytes += (chunk as Buffer).length;
        if (pendingBytes >= READ_MESSAGE_BYTES) {
          yield { chunk: Buffer.concat(pending, pendingBytes) };
          pending = [];
          pendingBytes = 0;
        }
      }
      if (pendingBytes > 0) yield { chunk: Buffer.concat(pending, pendingBytes) };
    },

    async listDir(req) {
      const envd = envdOf(req.capsuleId, 'list files in');
      try {
        const res = await envd.fs.listDir({ path: req.path, depth: req.depth || 1 }, { headers: EnvdClient.userHeaders(req.user) });
        return { entries: res.entries.map(dirEntry) };
      } catch (err) {
        throw fromEnvdError(err);
      }
    },

    async makeDir(req) {
      const envd = envdOf(req.capsuleId, 'create a directory in');
      try {
        const res = await envd.fs.makeDir({ path: required(req.path, 'path') }, { headers: EnvdClient.userHeaders(req.user) });
        return { entry: res.entry ? dirEntry(res.entry) : undefined };
      } catch (err) {
        throw fromEnvdError(err);
      }
    },

    async removePath(req) {
      const envd = envdOf(req.capsuleId, 'remove files in');
      try {
        await envd.fs.remove({ path: required(req.path, 'path') }, { headers: EnvdClient.userHeaders(req.user) });
        return {};
      } catch (err) {
        throw fromEnvdError(err);
      }
    },

    async pause(req, ctx: HandlerContext) {
      const kind = req.kind === PauseKind.MEMORY ? 'memory' : req.kind === PauseKind.FILESYSTEM ? 'filesystem' : undefined;
      const record = await manager.pause(required(req.capsuleId, 'capsule_id'), kind, ctx.signal);
      return { capsule: toCapsule(record) };
    },

    async resume(req, ctx: HandlerContext) {
      const id = required(req.capsuleId, 'capsule_id');
      const record = await admission.run(() => manager.resume(id, ctx.signal), ctx.signal);
      return { capsule: toCapsule(record) };
    },

    async snapshot(req, ctx: HandlerContext) {
      const info = await manager.snapshot(required(req.capsuleId, 'capsule_id'), req.name, { overwrite: req.overwrite, signal: ctx.signal });
      return { template: toTemplate(listedSnapshot(info)) };
    },

    async listTemplates() {
      return { templates: (await manager.listTemplates()).map(toTemplate) };
    },

    async deleteTemplate(req) {
      await manager.deleteTemplate(required(req.name, 'name'));
      return {};
    },

    async flattenTemplate(req, ctx: HandlerContext) {
      const record = manager.get(required(req.capsuleId, 'capsule_id'));
      assertRunning(record, 'flatten');
      const name = required(req.name, 'name');
      if ((await manager.listTemplates().catch(() => [])).some((t) => t.name === name)) {
        throw new WrennError('already_exists', `template ${name} already exists on this host: delete it first or choose another name`, { template: name });
      }
      const out = await flattenCapsuleRoot({
        store: deps.templates,
        capsuleDir: capsuleDirs.dirOf(record.runtimeId),
        name,
        defaults: { defaultUser: req.defaultUser || record.defaultUser, defaultEnv: req.defaultEnv, ...(req.defaultWorkdir ? { defaultWorkdir: req.defaultWorkdir } : {}) },
        logger: deps.logger.child({ capsuleId: record.id }),
        signal: ctx.signal,
      });
      return { template: toTemplate(listedBase(out.template)), addedBytes: BigInt(out.addedBytes), durationMs: out.durationMs };
    },

    async deleteBaseTemplate(req, ctx: HandlerContext) {
      await deps.templates.removeFlattened(required(req.name, 'name'), { signal: ctx.signal });
      return {};
    },

    async getMetrics(req) {
      const range = (req.range || '5m') as MetricsRange;
      if (!METRICS_RANGES.includes(range)) throw new WrennError('invalid_argument', `range must be one of ${METRICS_RANGES.join(', ')}`);
      const points = manager.metrics(required(req.capsuleId, 'capsule_id'), range);
      return {
        points: points.map((p) => ({
          tsMs: BigInt(p.tsMs),
          cpuPct: p.cpuPct,
          memUsedBytes: BigInt(p.memUsedBytes),
          memTotalBytes: BigInt(p.memTotalBytes),
          diskUsedBytes: BigInt(p.diskUsedBytes),
          diskTotalBytes: BigInt(p.diskTotalBytes),
        })),
      };
    },

    ...volumeHandlers(deps.volumes),
  });
}
