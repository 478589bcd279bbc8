/**
 * How an E2B `templateID` names a Wrenn template. E2B's default template `base` runs as
 * user `user` in `/home/user` with passwordless sudo: Wrenn's `minimal` template carries
 * that user (uid 1001, sudo), so `base` is `minimal` with that user and directory as the
 * capsule's defaults. Any other id is a Wrenn template name (a base template or a team's
 * snapshot template), used as is.
 */
export interface ResolvedTemplate {
  /** The Wrenn template the capsule boots from. */
  template: string;
  defaultUser?: string;
  workdir?: string;
}

const ALIASES: Record<string, ResolvedTemplate> = {
  base: { template: 'minimal', defaultUser: 'user', workdir: '/home/user' },
};

/** E2B ids may carry a tag (`name:tag`); Wrenn templates have one version, `default`/`latest`. */
const TAG = /^(.+?):(default|latest)$/;

export function resolveTemplate(templateId: string): ResolvedTemplate {
  const name = TAG.exec(templateId)?.[1] ?? templateId;
  return ALIASES[name] ?? { template: name };
}

/** Whether `name` is an alias the E2B API answers for itself (not a Wrenn template name). */
export function isE2bAlias(name: string): boolean {
  return name in ALIASES;
}
