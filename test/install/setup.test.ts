/**
 * scripts/setup.sh is idempotent: run twice from an unrelated working directory, the second
 * run only checks (installs, downloads and rebuilds nothing). CI runs setup.sh on its fresh
 * clone before the suite, so here the first run finds everything present too; this test
 * never lets setup.sh reinstall node_modules or rebuild under the running suite: when
 * `setup.sh --check` says the checkout is not set up, it fails before running anything.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { dirname, join, relative } from 'node:path';
import { REPO, run } from './run.js';

const SCRIPT = join(REPO, 'scripts/setup.sh');
const CHANGES = /installing|would run|downloading|building|installed |built the/;

test('setup.sh run twice from another directory: the second run only checks', { skip: process.getuid?.() !== 0 ? 'needs root (the suite runs as root)' : false }, async () => {
  // From the repository's parent, by a relative path (as `sudo ./scripts/setup.sh` is typed).
  const cwd = dirname(REPO);
  const rel = relative(cwd, SCRIPT);
  const check = await run(['bash', rel, '--check'], { cwd, timeoutMs: 60_000 });
  assert.equal(check.code, 0, `this checkout is not set up (run scripts/setup.sh, then the suite):\n${check.output}`);
  assert.doesNotMatch(check.output, CHANGES, check.output);

  for (const round of [1, 2]) {
    const r = await run(['bash', rel], { cwd, timeoutMs: 120_000 });
    assert.equal(r.code, 0, `run ${round}:\n${r.output}`);
    if (round === 2) {
      assert.doesNotMatch(r.output, CHANGES, r.output);
      for (const line of ['Debian packages present', 'npm dependencies present', 'build up to date', 'done']) {
        assert.ok(r.output.includes(`[setup] ${line}`), `missing "${line}" in:\n${r.output}`);
      }
      assert.match(r.output, /\[criu\] present: /);
    }
  }
  // An unknown argument is refused before anything runs.
  const bad = await run(['bash', rel, '--frobnicate'], { cwd, timeoutMs: 10_000 });
  assert.equal(bad.code, 2, bad.output);
});
