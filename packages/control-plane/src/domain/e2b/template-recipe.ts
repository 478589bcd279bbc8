/**
 * What the e2b SDK's `Template` builder sends (POST /v2/templates/{id}/builds/{buildID}:
 * a base, steps RUN/COPY/ENV/WORKDIR/USER, a start and a ready command) turned into the
 * recipe lines Wrenn's builder runs, so both go through one builder.
 *
 * E2B semantics kept: a template starts as user `user` in `/home/user` (E2B's `base`), a
 * step's own user (`runCmd(cmd, { user })`, `copy(..., { user })`) applies to that step
 * only, COPY's mode is applied after the copy, `setStartCmd` with a ready command makes a
 * template whose process is running in every sandbox created from it.
 *
 * Base images cannot be pulled from container registries here: an image is accepted only
 * when it is one of the images a shipped template stands for.
 */
import { WrennError } from '@wrenn/shared';

export interface E2bStep {
  type: string;
  args?: string[] | undefined;
  filesHash?: string | undefined;
  force?: boolean | undefined;
}

export interface E2bTemplateBody {
  fromImage?: string | undefined;
  fromTemplate?: string | undefined;
  fromImageRegistry?: unknown;
  force?: boolean | undefined;
  steps?: E2bStep[] | undefined;
  startCmd?: string | undefined;
  readyCmd?: string | undefined;
}

export interface E2bRecipe {
  /** The E2B template name the build starts from (`base`, a shipped or a team template). */
  from: string;
  recipe: string[];
  healthcheck?: string;
  /** Content hashes of the files the COPY steps need, in step order. */
  hashes: string[];
}

/** Images that stand for a shipped template (the image itself is never pulled). */
const IMAGE_TEMPLATES: Array<[RegExp, string]> = [
  [/^(docker\.io\/)?(library\/)?python(:[\w.-]+)?$/, 'python'],
  [/^(docker\.io\/)?(library\/)?node(:[\w.-]+)?$/, 'node'],
  [/^(docker\.io\/)?e2bdev\/code-interpreter(:[\w.-]+)?$/, 'code-interpreter'],
  [/^(docker\.io\/)?e2bdev\/base(:[\w.-]+)?$/, 'base'],
];

/** The shipped template an image name stands for, if any. */
export function templateForImage(image: string): string | undefined {
  return IMAGE_TEMPLATES.find(([re]) => re.test(image))?.[1];
}

/** The refusal of an image that is not one of those: names what can be used instead. */
export function imageRefused(image: string, available: readonly string[]): WrennError {
  return new WrennError(
    'invalid_argument',
    `fromImage(${JSON.stringify(image)}): base images cannot be pulled from container registries on this Wrenn server. ` +
      `Use fromTemplate() with one of the templates available: ${available.join(', ')} ` +
      `(the images python:*, node:*, e2bdev/code-interpreter and e2bdev/base stand for the templates python, node, code-interpreter and base)`,
  );
}

/** A word the recipe parser reads back literally (shell single quotes). */
function lit(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** A word in double quotes: blanks kept, `$VAR` expanded as Dockerfile ENV does. */
function dq(s: string): string {
  return `"${s.replace(/(["\\])/g, '\\$1')}"`;
}

function bad(i: number, what: string): never {
  throw new WrennError('invalid_argument', `template step ${i + 1}: ${what}`);
}

const MODE = /^[0-7]{3,4}$/;

/** Where COPY puts `src` given `dest` (Docker's rule: a destination ending in / is a directory). */
function copyTarget(src: string, dest: string): string {
  if (!dest.endsWith('/')) return dest;
  const base = src.replace(/\/+$/, '').split('/').pop() ?? src;
  return `${dest}${base}`;
}

export function e2bRecipe(body: E2bTemplateBody, available: readonly string[]): E2bRecipe {
  if (body.fromImageRegistry !== undefined) {
    throw new WrennError('invalid_argument', `private registries cannot be reached from this Wrenn server: use fromTemplate() with one of ${available.join(', ')}`);
  }
  if (body.fromImage !== undefined && body.fromTemplate !== undefined) throw new WrennError('invalid_argument', 'send fromImage or fromTemplate, not both');
  let from = body.fromTemplate ?? 'base';
  if (body.fromImage !== undefined) {
    const mapped = templateForImage(body.fromImage);
    if (!mapped) throw imageRefused(body.fromImage, available);
    from = mapped;
  }

  // E2B templates start as `user` in its home; a step's own user is switched back after it.
  let user = 'user';
  const recipe = ['USER user', 'WORKDIR /home/user'];
  const asUser = (stepUser: string | undefined, lines: string[]) => {
    if (stepUser && stepUser !== user) recipe.push(`USER ${stepUser}`, ...lines, `USER ${user}`);
    else recipe.push(...lines);
  };
  const hashes: string[] = [];
  for (const [i, step] of (body.steps ?? []).entries()) {
    const args = step.args ?? [];
    switch (step.type) {
      case 'RUN': {
        const [cmd, stepUser] = args;
        if (!cmd?.trim()) bad(i, 'RUN has no command');
        asUser(stepUser || undefined, [`RUN ${cmd}`]);
        break;
      }
      case 'COPY': {
        const [src, dest, stepUser, mode] = args;
        if (!src || !dest) bad(i, 'COPY needs a source and a destination');
        if (!step.filesHash) bad(i, 'COPY has no filesHash: the files were not uploaded');
        if (mode && !MODE.test(mode)) bad(i, `COPY mode ${JSON.stringify(mode)} is not an octal mode like 0644`);
        if (/[*?[]/.test(src)) bad(i, `COPY source ${JSON.stringify(src)} is a pattern: name files or directories`);
        hashes.push(step.filesHash);
        const lines = [`COPY ${lit(src)} ${dq(dest)}`];
        if (mode) lines.push(`RUN chmod ${mode} ${lit(copyTarget(src, dest))}`);
        asUser(stepUser || undefined, lines);
        break;
      }
      case 'ENV': {
        if (args.length === 0 || args.length % 2 !== 0) bad(i, 'ENV needs name and value pairs');
        const pairs: string[] = [];
        for (let k = 0; k < args.length; k += 2) pairs.push(`${args[k]}=${dq(args[k + 1]!)}`);
        recipe.push(`ENV ${pairs.join(' ')}`);
        break;
      }
      case 'WORKDIR':
        if (!args[0]) bad(i, 'WORKDIR needs a path');
        recipe.push(`WORKDIR ${dq(args[0])}`);
        break;
      case 'USER':
        if (!args[0]) bad(i, 'USER needs a name');
        user = args[0];
        recipe.push(`USER ${lit(user)}`);
        break;
      default:
        bad(i, `${JSON.stringify(step.type)} is not a step this server builds (RUN, COPY, ENV, WORKDIR, USER)`);
    }
  }
  let healthcheck: string | undefined;
  if (body.startCmd?.trim()) {
    recipe.push(`START ${body.startCmd}`);
    // The ready command is what E2B waits for before the template is saved: the healthcheck.
    healthcheck = body.readyCmd?.trim() || undefined;
  } else if (body.readyCmd?.trim()) {
    throw new WrennError('invalid_argument', 'a ready command needs a start command (setStartCmd(cmd, ready))');
  }
  return { from, recipe, ...(healthcheck ? { healthcheck } : {}), hashes };
}
