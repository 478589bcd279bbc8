import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WrennError } from '../errors.js';
import { parseDockerfile } from './dockerfile.js';
import { parseRecipe } from './recipe.js';

function rejects(text: string, line: number | undefined, what: RegExp): void {
  assert.throws(
    () => parseDockerfile(text),
    (err: unknown) => {
      assert.ok(err instanceof WrennError, String(err));
      assert.equal(err.code, 'invalid_recipe');
      if (line !== undefined) {
        assert.equal(err.details?.line, line);
        assert.match(err.message, new RegExp(`^Dockerfile line ${line}: `));
      }
      assert.match(err.message, what);
      assert.match(err.message, /expected/);
      return true;
    },
  );
}

test('a Dockerfile becomes a base template, recipe lines and a healthcheck', () => {
  const out = parseDockerfile(
    [
      '# syntax=docker/dockerfile:1',
      'ARG VERSION=1.2',
      'FROM minimal AS build',
      'ARG APP=/srv/app',
      'LABEL org.example=1',
      'ENV LEGACY some value',
      'ENV V=${VERSION} PATH=$APP/bin:$PATH',
      'RUN apt-get update && \\',
      '    # a comment inside a continued line',
      '    echo $VERSION',
      'RUN ["echo", "exec form", "it\'s"]',
      'WORKDIR $APP',
      'USER app',
      'COPY ["a b.txt", "dir/", "./"]',
      'ADD src/ /opt/src/',
      'EXPOSE 8000',
      'HEALTHCHECK --interval=5s CMD curl -sf localhost:8000',
      'ENTRYPOINT ["python3", "-m"]',
      'CMD http.server 8000',
    ].join('\n'),
  );
  assert.equal(out.baseTemplate, 'minimal');
  assert.equal(out.healthcheck, 'curl -sf localhost:8000');
  assert.deepEqual(out.recipe, [
    `ENV LEGACY='some value'`,
    'ENV V=1.2 PATH=/srv/app/bin:$PATH',
    'RUN apt-get update &&      echo 1.2',
    `RUN echo 'exec form' 'it'\\''s'`,
    'WORKDIR /srv/app',
    'USER app',
    `COPY 'a b.txt' dir/ ./`,
    'COPY src/ /opt/src/',
    'START python3 -m http.server 8000',
  ]);
  // What it produces is a valid recipe.
  assert.equal(parseRecipe(out.recipe).steps.length, 9);
});

test('malformed Dockerfiles name the line', () => {
  rejects('RUN echo', 1, /RUN before FROM/);
  rejects('FROM python:3.12\nRUN true', 1, /"python:3.12" is not a Wrenn template/);
  rejects('FROM minimal\nFROM minimal\nRUN true', 2, /multi-stage/);
  rejects('FROM --platform=linux/amd64 minimal\nRUN true', 1, /FROM options/);
  rejects('FROM minimal\nRUN --mount=type=cache,target=/x true', 2, /RUN options/);
  rejects('FROM minimal\nRUN', 2, /RUN has no command/);
  rejects('FROM minimal\nRUN [1, 2]', 2, /JSON array of strings/);
  rejects('FROM minimal\nCOPY --from=build /a /b', 2, /COPY options/);
  rejects('FROM minimal\nCOPY ../x /y', 2, /leaves the build context/);
  rejects('FROM minimal\nADD https://example.com/x.tgz /x', 2, /URL/);
  rejects('FROM minimal\n\nUSER 1000:1000', 3, /not a valid user name/);
  rejects('FROM minimal\nENV 9=x', 2, /not a variable name/);
  rejects('FROM minimal\nVOLUME /data', 2, /VOLUME is not supported/);
  rejects('FROM minimal\nHEALTHCHECK --interval=5s', 2, /HEALTHCHECK without CMD/);
  rejects('FROM minimal\nARG 1x', 2, /not an ARG declaration/);
  rejects('FROM minimal\nRUN echo \\', 2, /line continuation/);
  rejects('FROM minimal', undefined, /no instruction after FROM/);
  rejects('# nothing\n', undefined, /no FROM/);
});
