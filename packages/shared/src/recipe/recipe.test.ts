import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WrennError } from '../errors.js';
import { parseHealthcheck, parseRecipe, parseDuration } from './recipe.js';
import { expandTemplate } from './expand.js';
import { splitWords } from './words.js';

/** Asserts that parsing fails with invalid_recipe naming `line` and matching `what`. */
function rejects(lines: string[], line: number | undefined, what: RegExp): void {
  assert.throws(
    () => parseRecipe(lines),
    (err: unknown) => {
      assert.ok(err instanceof WrennError, String(err));
      assert.equal(err.code, 'invalid_recipe');
      if (line !== undefined) {
        assert.equal(err.details?.line, line);
        assert.match(err.message, new RegExp(`^line ${line}: `));
      }
      assert.match(err.message, what);
      assert.match(err.message, /expected/);
      return true;
    },
  );
}

test('every instruction parses, comments and blank lines are skipped', () => {
  const { steps } = parseRecipe([
    '# a comment',
    '',
    'RUN --timeout=1m30s apt-get install -y curl',
    'run echo lower-case keyword',
    `ENV A=1 B="two words" C='single $X' D=a\\ b E=$HOME/bin`,
    'WORKDIR /srv/app',
    'USER app_user-1',
    'COPY src/ "file with space.txt" /opt/dst/',
    'START python3 -m http.server 8000',
  ]);
  assert.deepEqual(
    steps.map((s) => s.kind),
    ['run', 'run', 'env', 'workdir', 'user', 'copy', 'start'],
  );
  assert.deepEqual(steps[0], { kind: 'run', line: 3, cmd: 'apt-get install -y curl', timeoutMs: 90_000 });
  assert.deepEqual(steps[1], { kind: 'run', line: 4, cmd: 'echo lower-case keyword' });
  const env = steps[2]!;
  assert.equal(env.kind, 'env');
  if (env.kind !== 'env') return;
  const values = Object.fromEntries(env.vars.map((v) => [v.name, expandTemplate(v.value, { HOME: '/home/u', X: 'no' })]));
  assert.deepEqual(values, { A: '1', B: 'two words', C: 'single $X', D: 'a b', E: '/home/u/bin' });
  assert.deepEqual(steps[5], { kind: 'copy', line: 8, sources: ['src/', 'file with space.txt'], dest: '/opt/dst/' });
});

test('a RUN command is kept verbatim for the shell', () => {
  const { steps } = parseRecipe([`RUN echo "$HOME" 'a  b' && ls | wc -l`]);
  assert.deepEqual(steps[0], { kind: 'run', line: 1, cmd: `echo "$HOME" 'a  b' && ls | wc -l` });
});

test('durations', () => {
  assert.equal(parseDuration('500ms'), 500);
  assert.equal(parseDuration('2h'), 7_200_000);
  assert.equal(parseDuration('1m5s'), 65_000);
  assert.equal(parseDuration('5'), undefined);
  assert.equal(parseDuration('-1s'), undefined);
});

test('word splitting keeps quoted dollars literal and expands the others', () => {
  assert.deepEqual(splitWords(`a"b c"'d'`), ['ab cd']);
  assert.equal(expandTemplate(splitWords(`"\\$A$A" '$A' \\$A`).join('|'), { A: 'x' }), '$Ax|$A|$A');
  assert.equal(expandTemplate(splitWords('${A}b $MISSING.')[0]!, { A: 'x' }), 'xb');
  assert.equal(expandTemplate(splitWords('a\\\\b')[0]!, {}), 'a\\b');
});

test('malformed RUN lines', () => {
  rejects(['RUN'], 1, /RUN has no command/);
  rejects(['RUN --timeout=5m'], 1, /RUN has no command/);
  rejects(['RUN --timeout=soon echo'], 1, /--timeout=soon is not a duration/);
  rejects(['RUN --timeout=0s echo'], 1, /out of range/);
  rejects(['RUN --timeout=25h echo'], 1, /out of range/);
  rejects(['RUN --network=none echo'], 1, /unknown RUN option --network/);
});

test('malformed START, ENV, WORKDIR and USER lines', () => {
  rejects(['# c', 'START   '], 2, /START has no command/);
  rejects(['ENV'], 1, /ENV sets nothing/);
  rejects(['ENV FOO'], 1, /"FOO" has no '='/);
  rejects(['ENV 1A=x'], 1, /"1A" is not a variable name/);
  rejects(['ENV A-B=x'], 1, /"A-B" is not a variable name/);
  rejects(['ENV A="unterminated'], 1, /unterminated double quote/);
  rejects(["ENV A='x"], 1, /unterminated single quote/);
  rejects(['ENV A=x\\'], 1, /backslash at the end/);
  rejects(['WORKDIR'], 1, /WORKDIR takes one path, got 0/);
  rejects(['WORKDIR /a /b'], 1, /WORKDIR takes one path, got 2/);
  rejects(['USER'], 1, /USER takes one name, got 0/);
  rejects(['USER Root'], 1, /"Root" is not a valid user name/);
  rejects(['USER 1000'], 1, /not a valid user name/);
  rejects(['USER a b'], 1, /USER takes one name, got 2/);
});

test('malformed COPY lines', () => {
  rejects(['COPY'], 1, /COPY needs a source and a destination, got 0/);
  rejects(['COPY onlyone'], 1, /got 1 argument/);
  rejects(['COPY /etc/passwd /x'], 1, /is absolute/);
  rejects(['COPY ../secret /x'], 1, /leaves the build context/);
  rejects(['COPY a/../../b /x'], 1, /leaves the build context/);
  rejects(['COPY $SRC /x'], 1, /refers to a variable/);
  rejects(['COPY a b /dst'], 1, /needs a directory destination ending in '\/'/);
});

test('unknown instructions, NUL and empty recipes', () => {
  rejects(['RUN true', 'FROBNICATE x'], 2, /unknown instruction "FROBNICATE".*RUN, START, ENV, WORKDIR, USER or COPY/);
  rejects(['RUN echo \0'], 1, /NUL/);
  rejects(['# only a comment', ''], undefined, /no instruction/);
  rejects([], undefined, /no instruction/);
});

test('the healthcheck string', () => {
  assert.equal(parseHealthcheck('  curl -sf localhost:8000 '), 'curl -sf localhost:8000');
  assert.throws(() => parseHealthcheck('   '), /healthcheck: is empty \(expected/);
  assert.throws(() => parseHealthcheck('a\0b'), /NUL/);
  assert.throws(() => parseHealthcheck('x'.repeat(5000)), /at most 4096/);
});
