/**
 * The Dockerfile subset Wrenn builds, translated into recipe lines (./recipe.ts) so both
 * run through one builder:
 *
 *   FROM <wrenn template> [AS name]   the base template (one stage only; no registry images)
 *   ARG NAME[=default]                substituted as ${NAME} / $NAME in later instructions
 *   RUN, ENV, WORKDIR, USER           as in the recipe (RUN also in exec form ["a","b"])
 *   COPY / ADD src... dst             from the build context (no URLs, no --from)
 *   CMD / ENTRYPOINT                  the START command (ENTRYPOINT followed by CMD)
 *   HEALTHCHECK [options] CMD cmd     the healthcheck
 *   EXPOSE, LABEL, MAINTAINER         accepted and ignored (metadata only)
 *
 * Lines continue with a trailing backslash; `#` lines are comments. Errors are
 * `invalid_recipe` naming the Dockerfile line (`details.line`).
 */
import { WrennError } from '../errors.js';
import { parseHealthcheck, parseRecipe } from './recipe.js';
import { shellQuote } from './words.js';

export interface DockerfileRecipe {
  baseTemplate: string;
  recipe: string[];
  healthcheck?: string;
}

const TEMPLATE_NAME = /^[a-z0-9][a-z0-9._-]{0,62}$/;

function fail(line: number, message: string, expected: string): never {
  throw new WrennError('invalid_recipe', `Dockerfile line ${line}: ${message} (expected ${expected})`, { line });
}

/** Logical instructions with the physical line each starts on. */
function instructions(text: string): Array<{ line: number; keyword: string; rest: string }> {
  const out: Array<{ line: number; keyword: string; rest: string }> = [];
  const lines = text.split(/\r?\n/);
  let current: { line: number; text: string } | undefined;
  lines.forEach((raw, i) => {
    if (raw.includes('\0')) fail(i + 1, 'the line holds a NUL character', 'text without NUL');
    const trimmed = raw.trim();
    // Comments are dropped, even between continued lines (as Docker does).
    if (trimmed.startsWith('#')) return;
    if (!current) {
      if (trimmed === '') return;
      current = { line: i + 1, text: '' };
    }
    const continues = /\\\s*$/.test(raw);
    current.text += `${continues ? raw.replace(/\\\s*$/, '') : raw} `;
    if (!continues) {
      const m = /^\s*(\S+)\s*([\s\S]*?)\s*$/.exec(current.text)!;
      out.push({ line: current.line, keyword: m[1]!.toUpperCase(), rest: m[2]! });
      current = undefined;
    }
  });
  if (current) fail(current.line, 'the last instruction ends with a line continuation', 'a final line without a trailing backslash');
  return out;
}

/** `["a", "b c"]` → ['a', 'b c']; undefined when `rest` is not a JSON array of strings. */
function execForm(line: number, rest: string): string[] | undefined {
  if (!rest.startsWith('[')) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(rest);
  } catch {
    return undefined; // shell form that happens to start with '['
  }
  if (!Array.isArray(parsed) || parsed.length === 0 || !parsed.every((p) => typeof p === 'string')) {
    fail(line, 'the exec form must be a non-empty JSON array of strings', '["executable", "arg", ...]');
  }
  return parsed as string[];
}

function commandOf(line: number, rest: string, what: string): string {
  const argv = execForm(line, rest);
  if (argv) return argv.map(shellQuote).join(' ');
  if (!rest) fail(line, `${what} has no command`, `${what} command or ${what} ["executable", "arg", ...]`);
  return rest;
}

export function parseDockerfile(text: string): DockerfileRecipe {
  const args = new Map<string, string>();
  const substitute = (s: string) =>
    s.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)/g, (whole, a: string | undefined, b: string | undefined) => {
      const name = (a ?? b)!;
      return args.has(name) ? args.get(name)! : whole;
    });
  let baseTemplate: string | undefined;
  let entrypoint: string | undefined;
  let cmd: string | undefined;
  let healthcheck: string | undefined;
  const recipe: string[] = [];
  const lineOf: number[] = [];
  const emit = (line: number, recipeLine: string) => {
    recipe.push(recipeLine);
    lineOf.push(line);
  };

  for (const ins of instructions(text)) {
    const { line, keyword } = ins;
    const rest = keyword === 'ARG' || keyword === 'FROM' ? ins.rest : substitute(ins.rest);
    if (!baseTemplate && keyword !== 'FROM' && keyword !== 'ARG') fail(line, `${keyword} before FROM`, 'FROM <template> as the first instruction');
    switch (keyword) {
      case 'FROM': {
        if (baseTemplate) fail(line, 'a second FROM: multi-stage builds are not supported', 'one FROM per Dockerfile');
        const m = /^(?:--\S+\s+)*(\S+)(?:\s+AS\s+\S+)?$/i.exec(substitute(rest));
        const image = m?.[1] ?? '';
        if (/^--/.test(rest)) fail(line, 'FROM options are not supported', 'FROM <template>');
        if (!TEMPLATE_NAME.test(image)) {
          fail(line, `${JSON.stringify(image)} is not a Wrenn template (images are not pulled from registries)`, 'FROM <template name>, e.g. FROM minimal');
        }
        baseTemplate = image;
        break;
      }
      case 'ARG': {
        const m = /^([A-Za-z_][A-Za-z0-9_]*)(?:=(.*))?$/.exec(rest);
        if (!m) fail(line, `${JSON.stringify(rest)} is not an ARG declaration`, 'ARG NAME or ARG NAME=default');
        let value = m[2] ?? '';
        const quoted = /^"(.*)"$|^'(.*)'$/.exec(value);
        if (quoted) value = quoted[1] ?? quoted[2] ?? '';
        args.set(m[1]!, substitute(value));
        break;
      }
      case 'RUN':
        if (/^--/.test(rest)) fail(line, 'RUN options (--mount, --network, ...) are not supported', 'RUN command');
        emit(line, `RUN ${commandOf(line, rest, 'RUN')}`);
        break;
      case 'ENV': {
        const legacy = /^([A-Za-z_][A-Za-z0-9_]*)\s+([\s\S]+)$/.exec(rest);
        emit(line, legacy && !legacy[1]!.includes('=') && !/^\S*=/.test(rest) ? `ENV ${legacy[1]}=${shellQuote(legacy[2]!)}` : `ENV ${rest}`);
        break;
      }
      case 'WORKDIR':
      case 'USER':
        emit(line, `${keyword} ${rest}`);
        break;
      case 'COPY':
      case 'ADD': {
        if (/^--/.test(rest)) fail(line, `${keyword} options (--from, --chown, --chmod, ...) are not supported: files are owned by the current USER`, `${keyword} source... destination`);
        const argv = execForm(line, rest);
        const parts = argv ? argv.map(shellQuote).join(' ') : rest;
        if (keyword === 'ADD' && /(^|\s)["']?(https?|git|ftp):\/\//i.test(parts)) fail(line, 'ADD from a URL is not supported', 'ADD with sources from the build context');
        emit(line, `COPY ${parts}`);
        break;
      }
      case 'CMD':
        cmd = commandOf(line, rest, 'CMD');
        break;
      case 'ENTRYPOINT':
        entrypoint = commandOf(line, rest, 'ENTRYPOINT');
        break;
      case 'HEALTHCHECK': {
        if (/^NONE$/i.test(rest)) {
          healthcheck = undefined;
          break;
        }
        const m = /^(?:--\S+\s+)*CMD\s+([\s\S]+)$/i.exec(rest);
        if (!m) fail(line, 'HEALTHCHECK without CMD', 'HEALTHCHECK [options] CMD command');
        healthcheck = commandOf(line, m[1]!, 'HEALTHCHECK CMD');
        break;
      }
      case 'EXPOSE':
      case 'LABEL':
      case 'MAINTAINER':
        break;
      default:
        fail(line, `${keyword} is not supported`, 'FROM, ARG, RUN, ENV, WORKDIR, USER, COPY, ADD, CMD, ENTRYPOINT, HEALTHCHECK, EXPOSE or LABEL');
    }
  }
  if (!baseTemplate) throw new WrennError('invalid_recipe', 'the Dockerfile has no FROM (expected FROM <template>, e.g. FROM minimal)');
  const start = [entrypoint, cmd].filter((c): c is string => Boolean(c)).join(' ');
  if (start) {
    emit(0, `START ${start}`);
  }
  if (recipe.length === 0) throw new WrennError('invalid_recipe', 'the Dockerfile has no instruction after FROM (expected RUN, ENV, WORKDIR, USER, COPY, ADD or CMD)');
  // Every translated line must parse as a recipe line; report a failure at its Dockerfile line.
  recipe.forEach((r, i) => {
    try {
      parseRecipe([r]);
    } catch (err) {
      if (err instanceof WrennError && err.code === 'invalid_recipe') {
        const where = lineOf[i] ? `Dockerfile line ${lineOf[i]}` : 'CMD/ENTRYPOINT';
        throw new WrennError('invalid_recipe', err.message.replace(/^line 1/, where), lineOf[i] ? { line: lineOf[i] } : undefined);
      }
      throw err;
    }
  });
  return { baseTemplate, recipe, ...(healthcheck ? { healthcheck: parseHealthcheck(healthcheck) } : {}) };
}
