/**
 * The template routes the e2b SDK calls to resolve names: `GET /templates/aliases/{alias}`
 * (Template.exists) and `GET /templates/{id}/tags` (Template.getTags), answered for the
 * templates that exist: `base`, the hosts' base templates and the team's snapshots. A
 * Wrenn template has one version, reported as the tag `default`. Building templates and
 * moving tags need template builds, which this server does not offer: those routes say so.
 */
import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import { WrennError } from '@wrenn/shared';
import type { ControlPlaneContext } from '../../../context.js';
import { listSnapshots } from '../../../domain/snapshots.js';
import { isE2bAlias, resolveTemplate } from '../../../domain/e2b/templates.js';
import { teamOf } from '../../plugins/auth.js';
import { Strict, TAGS } from './schemas.js';

interface KnownTemplate {
  templateID: string;
  public: boolean;
  createdAt: string;
}

/** The template an E2B name refers to, if it exists for this team. */
async function findTemplate(ctx: ControlPlaneContext, teamId: string, name: string): Promise<KnownTemplate | undefined> {
  const wrennName = resolveTemplate(name).template;
  const known = await listSnapshots(ctx, teamId);
  const t = known.find((k) => k.name === wrennName);
  if (!t) return undefined;
  const id = isE2bAlias(name.replace(/:(default|latest)$/, '')) ? name.replace(/:(default|latest)$/, '') : t.name;
  return { templateID: id, public: t.type === 'base', createdAt: t.created_at };
}

const NameParam = Type.String({ minLength: 1, maxLength: 200 });

export async function templateRoutes(app: FastifyInstance, ctx: ControlPlaneContext): Promise<void> {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();

  r.get('/templates/aliases/:alias', { schema: { tags: TAGS, summary: 'Resolve a template name (E2B)', params: Type.Object({ alias: NameParam }, Strict) } }, async (request) => {
    const t = await findTemplate(ctx, teamOf(request), request.params.alias);
    if (!t) throw new WrennError('not_found', `template ${request.params.alias} not found`);
    return { templateID: t.templateID, public: t.public };
  });

  r.get('/templates/:templateID/tags', { schema: { tags: TAGS, summary: "A template's tags (E2B): one, `default`", params: Type.Object({ templateID: NameParam }, Strict) } }, async (request) => {
    const t = await findTemplate(ctx, teamOf(request), request.params.templateID);
    if (!t) throw new WrennError('not_found', `template ${request.params.templateID} not found`);
    return [{ tag: 'default', buildID: t.templateID, createdAt: t.createdAt }];
  });

  const noTags = async () => {
    throw new WrennError('invalid_argument', 'template tags cannot be changed on this Wrenn server: a template has one version (tag `default`), and templates are built by an administrator, not through the SDK');
  };
  r.post('/templates/tags', { schema: { tags: TAGS, summary: 'Not offered: tags (E2B)' } }, noTags);
  r.delete('/templates/tags', { schema: { tags: TAGS, summary: 'Not offered: tags (E2B)' } }, noTags);
}
