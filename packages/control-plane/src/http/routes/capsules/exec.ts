/**
 * POST /capsules/{id}/exec: run a command to completion (200 with its output) or, with
 * `background: true`, start it and answer 202 {pid, tag} at once (docs/decisions.md#c5).
 */
import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import type { ControlPlaneContext } from '../../../context.js';
import { execCommand, startBackground } from '../../../domain/capsules/exec.js';
import { teamOf } from '../../plugins/auth.js';
import { CommonErrors, Envs, IdParams, Path, Strict, TAGS } from './schemas.js';

/** Tags name background processes; all-digit names would be read as PIDs, so they are refused. */
export const Tag = Type.String({ minLength: 1, maxLength: 64, pattern: '^(?![0-9]+$)[A-Za-z0-9._-]+$', description: 'Letters, digits, . _ - (not only digits)' });

const ExecBody = Type.Object(
  {
    cmd: Type.String({ minLength: 1, maxLength: 4096, description: 'Program to run (not through a shell: use /bin/sh with args ["-c", "..."] for shell syntax)' }),
    args: Type.Array(Type.String({ maxLength: 131072 }), { default: [], maxItems: 4096 }),
    timeout_sec: Type.Integer({ default: 30, minimum: 1, maximum: 86400, description: 'Kill the command after this long (foreground only)' }),
    background: Type.Boolean({ default: false }),
    tag: Type.Optional(Tag),
    envs: Type.Optional(Envs),
    cwd: Type.Optional(Path),
  },
  Strict,
);

const ExecResult = Type.Object({
  sandbox_id: Type.String({ description: 'The capsule' }),
  cmd: Type.String({ description: 'The command as given' }),
  stdout: Type.String(),
  stderr: Type.String(),
  exit_code: Type.Integer({ description: '-1 when the command timed out' }),
  duration_ms: Type.Integer(),
  encoding: Type.Enum(['utf-8', 'base64'], { description: 'base64 when either output is not valid UTF-8 (both are then base64)' }),
  timed_out: Type.Optional(Type.Boolean({ description: 'Present (true) when the command ran past timeout_sec and was killed' })),
});

const Started = Type.Object({ sandbox_id: Type.String(), cmd: Type.String(), pid: Type.Integer(), tag: Type.String() });

export async function execRoutes(app: FastifyInstance, ctx: ControlPlaneContext): Promise<void> {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  r.post(
    '/capsules/:id/exec',
    {
      schema: {
        tags: TAGS,
        summary: 'Run a command in a capsule',
        description: 'Foreground: waits and returns the output (200). Background: returns its pid and tag at once (202); see /processes. Counts as activity.',
        params: IdParams,
        body: ExecBody,
        response: { 200: ExecResult, 202: Started, ...CommonErrors },
      },
    },
    async (request, reply) => {
      const b = request.body;
      const teamId = teamOf(request);
      const cmd = { cmd: b.cmd, args: b.args, envs: b.envs ?? {}, ...(b.cwd ? { cwd: b.cwd } : {}) };
      if (b.background) {
        const started = await startBackground(ctx, teamId, request.params.id, { ...cmd, ...(b.tag ? { tag: b.tag } : {}) });
        return reply.code(202).send({ sandbox_id: request.params.id, cmd: b.cmd, ...started });
      }
      // A client that gives up stops waiting on the agent too (the agent still kills the command at its timeout).
      const abort = new AbortController();
      const onClose = () => {
        if (!reply.raw.writableFinished) abort.abort();
      };
      reply.raw.once('close', onClose);
      try {
        const result = await execCommand(ctx, teamId, request.params.id, { ...cmd, timeoutSec: b.timeout_sec }, abort.signal);
        return { sandbox_id: request.params.id, cmd: b.cmd, ...result };
      } finally {
        reply.raw.off('close', onClose);
      }
    },
  );
}
