/**
 * The CRIU install from scratch, as a fresh machine runs it: into an empty temporary prefix,
 * with the script named by a relative path from an unrelated working directory (a first
 * install once failed there only: the script lost its own path after changing directory,
 * and machines that already had CRIU never ran that step). Downloads the .debs from the
 * Debian archive this machine's apt uses, as the real install does.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { REPO, run } from './run.js';

const SCRIPT = join(REPO, 'scripts/install-criu.sh');

test('install-criu.sh installs a working CRIU into an empty prefix from another directory, then only checks', { skip: process.getuid?.() !== 0 ? 'needs root (the suite runs as root)' : false }, async () => {
  const base = mkdtempSync(join(tmpdir(), 'wrenn-criu-test-'));
  try {
    const prefix = join(base, 'prefix');
    // The repository's parent: a relative path that does not climb to / (one that does
    // resolves from any directory deep enough and would hide the bug).
    const cwd = dirname(REPO);
    const rel = relative(cwd, SCRIPT);
    assert.ok(!rel.startsWith('.') && !rel.startsWith('/'), `a downward relative path expected, got ${rel}`);

    const first = await run(['bash', rel, prefix], { cwd, timeoutMs: 300_000 });
    assert.equal(first.code, 0, first.output);
    assert.match(first.output, /downloading \d+ packages from sid/);
    assert.match(first.output, /installed Version: 4\./, first.output);
    assert.ok(existsSync(join(prefix, 'bin/criu')));
    // The shim is built from the script's own directory: the step that once failed.
    if (existsSync('/usr/bin/cc') || existsSync('/usr/bin/gcc')) {
      assert.ok(existsSync(join(prefix, 'lib/wrenn/lazy-pages-shim.so')), first.output);
    }
    const check = await run([join(prefix, 'bin/criu'), 'check'], { cwd, timeoutMs: 60_000 });
    assert.equal(check.code, 0, `criu check of the fresh install failed:\n${check.output}`);
    assert.match(first.output, /criu check passed/);

    const second = await run(['bash', rel, prefix], { cwd, timeoutMs: 60_000 });
    assert.equal(second.code, 0, second.output);
    assert.match(second.output, /present: Version: 4\./);
    assert.match(second.output, /lazy-pages shim present|no C compiler/);
    assert.doesNotMatch(second.output, /downloading|reading package lists|installed |built the/);
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
});
