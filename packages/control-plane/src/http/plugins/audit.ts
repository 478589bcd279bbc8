// STUB: audit log of every mutating call — replaced by its owner (accounts helper).
import type { FastifyInstance } from 'fastify';
import type { ControlPlaneContext } from '../../context.js';

export function installAudit(_app: FastifyInstance, _ctx: ControlPlaneContext): void {}
