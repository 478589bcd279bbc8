/** Routes that control envd itself: /health, /envs, /init, /snapshot/prepare. */
import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import Type from 'typebox';
import type { EnvdContext } from '../core/context.js';
import { spawning } from '../process/oom-score.js';
import { ENVD_VERSION } from '../version.js';
import type { HttpRouter } from './router.js';
import { readJson, sendJson } from './respond.js';

const InitBody = Type.Object(
  {
    accessToken: Type.Optional(Type.String({ maxLength: 4096 })),
    defaultUser: Type.Optional(Type.String({ minLength: 1, maxLength: 256 })),
    defaultWorkdir: Type.Optional(Type.String({ maxLength: 4096 })),
    envVars: Type.Optional(Type.Record(Type.String({ minLength: 1, maxLength: 4096 }), Type.String({ maxLength: 131072 }))),
    metadata: Type.Optional(Type.Record(Type.String({ minLength: 1, maxLength: 256 }), Type.String({ maxLength: 65536 }))),
    capsuleId: Type.Optional(Type.String({ maxLength: 256 })),
    templateId: Type.Optional(Type.String({ maxLength: 256 })),
    timestamp: Type.Optional(Type.String()),
    volumeMounts: Type.Optional(Type.Array(Type.Unknown())),
    hyperloopIP: Type.Optional(Type.String()),
  },
  { additionalProperties: false },
);

async function restartSubsystems(ctx: EnvdContext): Promise<void> {
  for (const s of ctx.subsystems) {
    if (s.running) await s.stop();
    s.start();
  }
}

function run(cmd: string, args: string[]): Promise<number | null> {
  return new Promise((resolve) => {
    const child = spawning(() => spawn(cmd, args, { stdio: 'ignore' }));
    child.on('error', () => resolve(null));
    child.on('exit', (code) => resolve(code));
  });
}

export function registerControlRoutes(router: HttpRouter): void {
  router.add('GET', '/health', (_req, res, _url, ctx) => {
    sendJson(res, 200, {
      status: 'ok',
      version: ENVD_VERSION,
      uptimeMs: Date.now() - ctx.state.startedAt,
    });
  });

  router.add('GET', '/envs', (_req, res, _url, ctx) => {
    sendJson(res, 200, ctx.state.envVars);
  });

  router.add('POST', '/init', async (req, res, _url, ctx) => {
    const body = await readJson(req, InitBody);
    if (body.defaultUser) ctx.users.lookup(body.defaultUser); // refuse unknown users before changing anything
    const afterRestore = ctx.state.preparedForSnapshot;
    ctx.state.apply(body);
    ctx.state.reloadMetadata();
    if (afterRestore) {
      // Connections from before the snapshot point at peers that no longer exist.
      const closed = ctx.connections.closeOpenedBefore(ctx.connections.current, req.socket);
      ctx.state.preparedForSnapshot = false;
      ctx.logger.info({ closed }, 'post-restore init: closed pre-snapshot connections');
    }
    await restartSubsystems(ctx);
    res.writeHead(204).end();
  });

  router.add('POST', '/snapshot/prepare', async (_req, res, _url, ctx) => {
    const started = Date.now();
    ctx.state.preparedForSnapshot = true;
    for (const s of ctx.subsystems) await s.stop();
    ctx.connections.advance();
    await run('sync', ['-f', '/']); // this capsule's filesystem only (syncfs), not every one on the host
    // Best effort: under a user namespace the kernel refuses, and that is fine.
    await writeFile('/proc/sys/vm/drop_caches', '3').catch(() => {});
    res.setHeader('connection', 'close');
    res.writeHead(204).end();
    ctx.logger.info({ durationMs: Date.now() - started }, 'prepared for snapshot');
  });
}
