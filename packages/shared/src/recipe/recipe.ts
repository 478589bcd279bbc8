/**
 * Build recipes: one instruction per line, parsed completely before any capsule starts, so
 * a mistake on line 12 costs nothing. Instructions (case-insensitive keywords):
 *
 *   RUN [--timeout=DUR] cmd    run `cmd` with /bin/sh -c as the current user (DUR: 90s, 5m, 1h30m, 500ms)
 *   START cmd                  start `cmd` in the background; it keeps running in capsules made from the result
 *   ENV K=V [K2=V2 ...]        set variables (quotes as in the shell; $VAR and ${VAR} are expanded)
 *   WORKDIR path               create the directory and run later steps in it
 *   USER name                  create the user (passwordless sudo, HOME) and run later steps as it
 *   COPY src... dst            copy from the build context (the uploaded archive)
 *   # comment, blank lines     ignored
 *
 * Errors are WrennError `invalid_recipe` whose message names the line, what is wrong and
 * what was expected, with `details.line` (1-based).
 */
import { WrennError } from '../errors.js';
import { expandTemplate, hasReference } from './expand.js';
import { splitWords, WordsError } from './words.js';

export type RecipeStep =
  | { kind: 'run'; line: number; cmd: string; timeoutMs?: number }
  | { kind: 'start'; line: number; cmd: string }
  | { kind: 'env'; line: number; vars: Array<{ name: string; value: string }> }
  | { kind: 'workdir'; line: number; path: string }
  | { kind: 'user'; line: number; name: string }
  /** `sources` are literal context paths; `dest` (like ENV values and WORKDIR) is a ./expand.ts template. */
  | { kind: 'copy'; line: number; sources: string[]; dest: string };

export interface ParsedRecipe {
  steps: RecipeStep[];
}

/** Longest timeout one step may ask for. */
export const MAX_STEP_TIMEOUT_MS = 24 * 3600_000;
export const MAX_RECIPE_LINES = 1000;
export const MAX_LINE_LENGTH = 64 * 1024;

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** Debian's useradd rule (NAME_REGEX), without the trailing `$` of machine accounts. */
export const USER_NAME = /^[a-z_][a-z0-9_-]{0,31}$/;
const INSTRUCTIONS = 'RUN, START, ENV, WORKDIR, USER or COPY';

function fail(line: number, message: string, expected: string): never {
  throw new WrennError('invalid_recipe', `line ${line}: ${message} (expected ${expected})`, { line });
}

function words(line: number, text: string, expected: string): string[] {
  try {
    return splitWords(text);
  } catch (err) {
    if (err instanceof WordsError) fail(line, err.message, expected);
    throw err;
  }
}

/** `90s`, `5m`, `1h30m`, `500ms` → milliseconds; undefined when not a duration. */
export function parseDuration(text: string): number | undefined {
  if (!/^(\d+(ms|s|m|h))+$/.test(text)) return undefined;
  let ms = 0;
  for (const m of text.matchAll(/(\d+)(ms|s|m|h)/g)) {
    const n = Number(m[1]);
    ms += m[2] === 'ms' ? n : m[2] === 's' ? n * 1000 : m[2] === 'm' ? n * 60_000 : n * 3600_000;
  }
  return ms;
}

/**
 * A COPY source (a words.ts template): relative, inside the context (no `..` component,
 * not absolute), without variables; returned as the literal path.
 */
export function contextPath(line: number, template: string): string {
  const expected = 'a path relative to the build context, like app/ or requirements.txt';
  if (hasReference(template)) fail(line, `COPY source ${JSON.stringify(template)} refers to a variable`, expected);
  const src = expandTemplate(template, {});
  if (src === '') fail(line, 'an empty COPY source', expected);
  if (src.startsWith('/')) fail(line, `COPY source ${JSON.stringify(src)} is absolute`, expected);
  if (src.split('/').includes('..')) fail(line, `COPY source ${JSON.stringify(src)} leaves the build context through '..'`, expected);
  return src;
}

function parseRun(line: number, rest: string): RecipeStep {
  let cmd = rest;
  let timeoutMs: number | undefined;
  const flag = /^--([a-z-]+)(?:=(\S*))?(?:\s+|$)/.exec(cmd);
  if (flag) {
    if (flag[1] !== 'timeout') fail(line, `unknown RUN option --${flag[1]}`, 'RUN [--timeout=DURATION] command');
    const ms = parseDuration(flag[2] ?? '');
    if (ms === undefined) fail(line, `--timeout=${flag[2] ?? ''} is not a duration`, 'a duration like 90s, 5m, 1h30m or 500ms');
    if (ms <= 0 || ms > MAX_STEP_TIMEOUT_MS) fail(line, `--timeout=${flag[2]} is out of range`, 'a timeout above 0 and at most 24h');
    timeoutMs = ms;
    cmd = cmd.slice(flag[0].length);
  }
  if (!cmd.trim()) fail(line, 'RUN has no command', 'RUN [--timeout=DURATION] command');
  return { kind: 'run', line, cmd, ...(timeoutMs !== undefined ? { timeoutMs } : {}) };
}

function parseEnv(line: number, rest: string): RecipeStep {
  const expected = 'ENV NAME=value [NAME2=value2 ...]';
  const ws = words(line, rest, expected);
  if (ws.length === 0) fail(line, 'ENV sets nothing', expected);
  const vars = ws.map((w) => {
    const eq = w.indexOf('=');
    if (eq < 0) fail(line, `${JSON.stringify(w)} has no '='`, expected);
    const name = w.slice(0, eq);
    if (!ENV_NAME.test(name)) fail(line, `${JSON.stringify(name)} is not a variable name`, 'a name of letters, digits and _ not starting with a digit');
    return { name, value: w.slice(eq + 1) };
  });
  return { kind: 'env', line, vars };
}

function parseOne(line: number, keyword: string, rest: string): RecipeStep {
  switch (keyword) {
    case 'RUN':
      return parseRun(line, rest);
    case 'START':
      if (!rest.trim()) fail(line, 'START has no command', 'START command');
      return { kind: 'start', line, cmd: rest };
    case 'ENV':
      return parseEnv(line, rest);
    case 'WORKDIR': {
      const ws = words(line, rest, 'WORKDIR path');
      if (ws.length !== 1 || ws[0] === '') fail(line, `WORKDIR takes one path, got ${ws.length}`, 'WORKDIR path');
      return { kind: 'workdir', line, path: ws[0]! };
    }
    case 'USER': {
      const ws = words(line, rest, 'USER name');
      if (ws.length !== 1) fail(line, `USER takes one name, got ${ws.length}`, 'USER name');
      if (!USER_NAME.test(ws[0]!)) fail(line, `${JSON.stringify(ws[0])} is not a valid user name`, 'a user name of lowercase letters, digits, _ and - starting with a letter or _ (at most 32)');
      return { kind: 'user', line, name: ws[0]! };
    }
    case 'COPY': {
      const expected = 'COPY source... destination';
      const ws = words(line, rest, expected);
      if (ws.length < 2) fail(line, `COPY needs a source and a destination, got ${ws.length} argument(s)`, expected);
      const sources = ws.slice(0, -1).map((s) => contextPath(line, s));
      const dest = ws[ws.length - 1]!;
      if (sources.length > 1 && !dest.endsWith('/')) fail(line, `COPY of ${sources.length} sources needs a directory destination ending in '/', got ${JSON.stringify(dest)}`, 'COPY a b dir/');
      return { kind: 'copy', line, sources, dest };
    }
    default:
      return fail(line, `unknown instruction ${JSON.stringify(keyword)}`, INSTRUCTIONS);
  }
}

/** Parses recipe lines (array element i is line i+1). */
export function parseRecipe(lines: readonly string[]): ParsedRecipe {
  if (lines.length > MAX_RECIPE_LINES) throw new WrennError('invalid_recipe', `the recipe has ${lines.length} lines; at most ${MAX_RECIPE_LINES} are allowed`);
  const steps: RecipeStep[] = [];
  lines.forEach((raw, i) => {
    const line = i + 1;
    if (raw.includes('\0')) fail(line, 'the line holds a NUL character', 'text without NUL');
    if (raw.length > MAX_LINE_LENGTH) fail(line, `the line is ${raw.length} characters long`, `at most ${MAX_LINE_LENGTH}`);
    const text = raw.trim();
    if (text === '' || text.startsWith('#')) return;
    const m = /^(\S+)(?:\s+([\s\S]*))?$/.exec(text)!;
    steps.push(parseOne(line, m[1]!.toUpperCase(), m[2] ?? ''));
  });
  if (steps.length === 0) throw new WrennError('invalid_recipe', 'the recipe has no instruction (expected at least one of RUN, START, ENV, WORKDIR, USER, COPY)');
  return { steps };
}

/** The healthcheck: a shell command that exits 0 once the START processes are ready. */
export function parseHealthcheck(text: string): string {
  const expected = 'a shell command that exits 0 when the template is ready, e.g. curl -sf localhost:8080/health';
  if (text.includes('\0')) throw new WrennError('invalid_recipe', `healthcheck: holds a NUL character (expected ${expected})`);
  if (!text.trim()) throw new WrennError('invalid_recipe', `healthcheck: is empty (expected ${expected})`);
  if (text.length > 4096) throw new WrennError('invalid_recipe', `healthcheck: is ${text.length} characters long (expected at most 4096)`);
  return text.trim();
}
