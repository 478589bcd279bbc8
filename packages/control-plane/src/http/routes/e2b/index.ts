/**
 * The E2B-compatible REST API, at the root (`/sandboxes`, `/v2/sandboxes`, ...) where the
 * unmodified e2b SDK calls it with E2B_API_URL set to the control plane. Same credentials
 * and teams as the native API (the SDK sends the API key as `X-API-Key`); errors in E2B's
 * shape (errors.ts). Sandbox traffic (envd, ports) goes through the capsule port proxy.
 */
import type { FastifyInstance } from 'fastify';
import type { ControlPlaneContext } from '../../../context.js';
import { authScope } from '../../plugins/auth.js';
import { installE2bErrors } from './errors.js';
import { metricsRoutes } from './metrics.js';
import { sandboxRoutes } from './sandboxes.js';
import { snapshotRoutes } from './snapshots.js';
import { templateRoutes } from './templates.js';
import { secretRoutes } from './secrets.js';
import { volumeRoutes } from './volumes.js';
import { volumeContentRoutes } from './volumecontent.js';
import { logRoutes } from './logs.js';
import { templateBuildRoutes, templateUploadRoutes } from './template-builds.js';

export async function e2bRoutes(app: FastifyInstance, ctx: ControlPlaneContext): Promise<void> {
  await app.register(async (s) => {
    // Out of Wrenn's OpenAPI document: these routes follow E2B's (spec/openapi.yml in the
    // e2b-dev/E2B repository), errors included, not Wrenn's contract.
    s.addHook('onRoute', (route) => {
      route.schema = { ...(route.schema ?? {}), hide: true };
    });
    installE2bErrors(s);
    authScope(s, ctx, { allow: ['user', 'apiKey'] });
    await sandboxRoutes(s, ctx);
    await metricsRoutes(s, ctx);
    await snapshotRoutes(s, ctx);
    await templateRoutes(s, ctx);
    await secretRoutes(s, ctx);
    await volumeRoutes(s, ctx);
    await logRoutes(s, ctx);
    await templateBuildRoutes(s, ctx);
  });
  // Uploads of template files carry a signed URL, not the API key (the SDK sends none there).
  await app.register(async (s) => {
    s.addHook('onRoute', (route) => {
      route.schema = { ...(route.schema ?? {}), hide: true };
    });
    installE2bErrors(s);
    await templateUploadRoutes(s, ctx);
  });
  // Outside the API-key scope: a volume's content is opened by the volume's own token.
  await volumeContentRoutes(app, ctx);
}
