/**
 * Every route module of the API. Each is registered twice: under `/v1/...` and under
 * `/api/v1/...` (Wrenn's Python SDK appends paths to a base URL ending in /api).
 */
import type { FastifyInstance } from 'fastify';
import type { ControlPlaneContext } from '../../context.js';
import { accountsRoutes } from './accounts.js';
import { hostsRoutes } from './hosts.js';
import { capsulesRoutes } from './capsules.js';
import { websocketsRoutes } from './websockets.js';
import { snapshotsRoutes } from './snapshots.js';
import { adminCapsulesRoutes } from './admin-capsules.js';
import { buildsRoutes } from './builds.js';
import { channelsRoutes } from './channels.js';

export type RouteModule = (app: FastifyInstance, ctx: ControlPlaneContext) => Promise<void>;

/** Modules whose routes live under /v1 (they register paths without the version prefix). */
export const VERSIONED_ROUTE_MODULES: RouteModule[] = [accountsRoutes, hostsRoutes, capsulesRoutes, websocketsRoutes, snapshotsRoutes, adminCapsulesRoutes, buildsRoutes, channelsRoutes];
