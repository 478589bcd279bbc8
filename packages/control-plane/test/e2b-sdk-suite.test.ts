/**
 * E2B's own js-sdk integration tests (`packages/js-sdk/tests` of the e2b-dev/E2B
 * repository) against a real Wrenn: a control plane and host agent from the harness, the
 * tests run by vitest with E2B_API_URL, E2B_SANDBOX_URL, E2B_VOLUME_API_URL and E2B_API_KEY
 * pointing at it, and their `../src` (and `src/index`, `src/errors`) imports resolved to the
 * `e2b` package we pin (2.51): tests importing other SDK internals cannot run against it.
 *
 * Nothing is fetched here: set E2B_JS_SDK_DIR to the js-sdk directory of a checkout of that
 * repository (without it this file is skipped, saying so). The tests copied next to this
 * repository's node_modules (`.wrenn-test/e2b-sdk-suite/`) so they resolve vitest and e2b
 * from it. Files that mock the API with msw (they test the SDK, not a server) and the
 * template-build tests (E2B's builder service) are left out. The outcome of every test is
 * written to `.wrenn-test/e2b-sdk-suite/results.md` (docs/e2b.md keeps the table), and this
 * test fails when one of the tests listed in EXPECTED_PASS fails (a regression guard).
 * E2B_SDK_SUITE_FILES narrows the run (a regex over paths under tests/).
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { cp, mkdir, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { join, relative, resolve } from 'node:path';
import { startE2bFixture, type E2bFixture } from './e2b-support.js';

const SDK_DIR = process.env.E2B_JS_SDK_DIR;
const REPO = resolve(import.meta.dirname, '../../..');
const WORK = join(REPO, '.wrenn-test', 'e2b-sdk-suite');

/**
 * Tests of E2B's suite that passed against Wrenn (file > title), when their file is run: a
 * failure of one fails this test.
 */
const EXPECTED_PASS: readonly string[] = [
  "api/info.test.ts > get sandbox info",
  "api/kill.test.ts > kill existing sandbox",
  "api/kill.test.ts > kill non-existing sandbox",
  "api/list.test.ts > list paused sandboxes",
  "api/list.test.ts > list running sandboxes",
  "api/list.test.ts > list sandboxes",
  "api/list.test.ts > list sandboxes started after",
  "api/list.test.ts > list sandboxes with filter",
  "api/list.test.ts > list sandboxes with order",
  "api/list.test.ts > list sandboxes with template filter",
  "api/list.test.ts > paginate iterator",
  "api/list.test.ts > paginate paused sandboxes",
  "api/list.test.ts > paginate running and paused sandboxes",
  "api/list.test.ts > paginate running sandboxes",
  "api/snapshot.test.ts > pause sandbox",
  "api/snapshot.test.ts > resume sandbox",
  "sandbox/commands/connect.test.ts > connect to non-existing process",
  "sandbox/commands/connect.test.ts > connect to process",
  "sandbox/commands/envVars.test.ts > bash command scoped env vars",
  "sandbox/commands/envVars.test.ts > python command scoped env vars",
  "sandbox/commands/envVars.test.ts > sandbox global env vars sandbox global env vars",
  "sandbox/commands/kill.test.ts > kill non-existing process",
  "sandbox/commands/kill.test.ts > kill process",
  "sandbox/commands/list.test.ts > list processes",
  "sandbox/commands/run.test.ts > run",
  "sandbox/commands/run.test.ts > run with multiline string",
  "sandbox/commands/run.test.ts > run with special characters",
  "sandbox/commands/run.test.ts > run with timeout",
  "sandbox/commands/run.test.ts > run with too short timeout",
  "sandbox/commands/run.test.ts > run with too short timeout iterating",
  "sandbox/commands/sandboxKilledDuringRun.test.ts > killing the sandbox while a command is running throws an actionable error",
  "sandbox/commands/sendStdin.test.ts > close stdin via command handle",
  "sandbox/commands/sendStdin.test.ts > send Uint8Array stdin to process",
  "sandbox/commands/sendStdin.test.ts > send empty stdin to process",
  "sandbox/commands/sendStdin.test.ts > send multiline string to stdin",
  "sandbox/commands/sendStdin.test.ts > send special characters to stdin",
  "sandbox/commands/sendStdin.test.ts > send stdin to process",
  "sandbox/commands/sendStdin.test.ts > send stdin via command handle",
  "sandbox/connect.test.ts > connect",
  "sandbox/connect.test.ts > connect does not shorten timeout on running sandbox",
  "sandbox/connect.test.ts > connect extends timeout on running sandbox",
  "sandbox/connect.test.ts > connect in debug mode does not call the API",
  "sandbox/connect.test.ts > connect resumes paused sandbox",
  "sandbox/connect.test.ts > connect to non-running sandbox",
  "sandbox/create.test.ts > create",
  "sandbox/create.test.ts > metadata",
  "sandbox/files/contentEncoding.test.ts > read file as bytes with gzip content encoding",
  "sandbox/files/contentEncoding.test.ts > write and read file with gzip content encoding",
  "sandbox/files/contentEncoding.test.ts > write with gzip and read without encoding",
  "sandbox/files/contentEncoding.test.ts > writeFiles with gzip content encoding",
  "sandbox/files/exists.test.ts > file does not exist",
  "sandbox/files/exists.test.ts > file exists",
  "sandbox/files/info.test.ts > get info of a directory",
  "sandbox/files/info.test.ts > get info of a directory that does not exist",
  "sandbox/files/info.test.ts > get info of a file",
  "sandbox/files/info.test.ts > get info of a file that does not exist",
  "sandbox/files/info.test.ts > get info of a symlink",
  "sandbox/files/list.test.ts > directory entry details",
  "sandbox/files/list.test.ts > file entry details",
  "sandbox/files/list.test.ts > list directory",
  "sandbox/files/list.test.ts > list directory with invalid depth",
  "sandbox/files/list.test.ts > mixed entries (files and directories)",
  "sandbox/files/makeDir.test.ts > make directory",
  "sandbox/files/makeDir.test.ts > make existing directory",
  "sandbox/files/makeDir.test.ts > make nested directory",
  "sandbox/files/metadata.test.ts > metadata is surfaced after rename",
  "sandbox/files/metadata.test.ts > metadata is surfaced when listing",
  "sandbox/files/metadata.test.ts > overwriting a file clears stale metadata",
  "sandbox/files/metadata.test.ts > rejects invalid metadata",
  "sandbox/files/metadata.test.ts > write file without metadata",
  "sandbox/files/read.test.ts > read empty file in all formats",
  "sandbox/files/read.test.ts > read file",
  "sandbox/files/read.test.ts > read file as stream",
  "sandbox/files/read.test.ts > read non-existing file",
  "sandbox/files/read.test.ts > read non-existing file as stream",
  "sandbox/files/read.test.ts > read non-existing file catches with deprecated NotFoundError",
  "sandbox/files/remove.test.ts > remove file",
  "sandbox/files/rename.test.ts > rename file",
  "sandbox/files/rename.test.ts > rename non-existing file",
  "sandbox/files/signing.test.ts > file signing test command run with secured sbx",
  "sandbox/files/watch.test.ts > watch file",
  "sandbox/files/watch.test.ts > watch non-existing directory",
  "sandbox/files/write.test.ts > overwrite file",
  "sandbox/files/write.test.ts > write ReadableStream with octet stream upload",
  "sandbox/files/write.test.ts > write ReadableStream with octet stream upload and gzip",
  "sandbox/files/write.test.ts > write file",
  "sandbox/files/write.test.ts > write to non-existing directory",
  "sandbox/files/write.test.ts > writeFiles creates parent directories",
  "sandbox/files/write.test.ts > writeFiles overwrites existing files",
  "sandbox/files/write.test.ts > writeFiles with different data types",
  "sandbox/files/write.test.ts > writeFiles with empty array",
  "sandbox/files/write.test.ts > writeFiles with multiple files",
  "sandbox/kill.test.ts > kill",
  "sandbox/metrics.test.ts > sbx metrics",
  "sandbox/metrics.test.ts > sbx metrics time range",
  "sandbox/pty/kill.test.ts > kill PTY",
  "sandbox/pty/kill.test.ts > kill non-existing PTY",
  "sandbox/pty/ptyConnect.test.ts > pty connect/reconnect",
  "sandbox/pty/ptyCreate.test.ts > create PTY",
  "sandbox/pty/resize.test.ts > resize",
  "sandbox/pty/sendInput.test.ts > send input",
];

interface Outcome {
  file: string;
  title: string;
  status: string;
  message: string;
}

async function listTests(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (!e.isFile() || !e.name.endsWith('.test.ts')) continue;
    out.push(relative(dir, join(e.parentPath, e.name)));
  }
  return out.sort();
}

/** The integration tests: not msw-mocked, not template builds, not other runtimes. */
async function selectFiles(testsDir: string): Promise<string[]> {
  const filter = process.env.E2B_SDK_SUITE_FILES ? new RegExp(process.env.E2B_SDK_SUITE_FILES) : undefined;
  const picked: string[] = [];
  for (const f of await listTests(testsDir)) {
    if (/^(template|runtimes|bundle)\//.test(f) || f.includes('browser')) continue;
    const text = await readFile(join(testsDir, f), 'utf8');
    if (/from 'msw|vi\.(do)?[mM]ock\(/.test(text)) continue;
    if (!/sandboxTest|Sandbox\.|volumeTest|Volume\.|Secret\./.test(text)) continue;
    if (filter && !filter.test(f)) continue;
    picked.push(f);
  }
  return picked;
}

const CONFIG = (e2bEntry: string) => `import { defineConfig } from 'vitest/config';
export default defineConfig({
  resolve: { alias: [{ find: /^(\\.\\.\\/)+src(\\/(index|errors)(\\.js)?)?$/, replacement: ${JSON.stringify(e2bEntry)} }] },
  test: { include: ['tests/**/*.test.ts'], testTimeout: 60000, hookTimeout: 120000, fileParallelism: false, isolate: true, environment: 'node' },
});
`;

function runVitest(files: string[], env: NodeJS.ProcessEnv, outFile: string): Promise<number> {
  return new Promise((res, rej) => {
    const child = spawn(join(REPO, 'node_modules/.bin/vitest'), ['run', '--config', join(WORK, 'vitest.config.mts'), '--reporter=json', `--outputFile=${outFile}`, '--reporter=dot', ...files.map((f) => `tests/${f}`)], {
      cwd: WORK,
      env,
      stdio: ['ignore', 'inherit', 'inherit'],
    });
    child.once('error', rej);
    child.once('exit', (code) => res(code ?? 1));
  });
}

describe("E2B's js-sdk tests against Wrenn", () => {
  if (!SDK_DIR) {
    test.skip('needs E2B_JS_SDK_DIR: the packages/js-sdk directory of an e2b-dev/E2B checkout (this repository ships none of it)', () => {});
    return;
  }
  let f: E2bFixture;
  before(async () => {
    f = await startE2bFixture();
  });
  after(async () => {
    await f?.close();
  });

  test('runs the suite and records every outcome', { timeout: 3_600_000 }, async () => {
    await rm(WORK, { recursive: true, force: true });
    await mkdir(WORK, { recursive: true });
    await cp(join(SDK_DIR, 'tests'), join(WORK, 'tests'), { recursive: true });
    await writeFile(join(WORK, 'vitest.config.mts'), CONFIG(join(REPO, 'node_modules/e2b/dist/index.mjs')));
    const files = await selectFiles(join(WORK, 'tests'));
    assert.ok(files.length > 0, 'no test file selected');
    const outFile = join(WORK, 'results.json');
    const env = { ...process.env, E2B_API_URL: f.t.url, E2B_SANDBOX_URL: f.t.url, E2B_VOLUME_API_URL: f.t.url, E2B_API_KEY: f.team.apiKey, E2B_DOMAIN: '' };
    await runVitest(files, env, outFile);
    const report = JSON.parse(await readFile(outFile, 'utf8')) as {
      testResults: Array<{ name: string; message?: string; assertionResults: Array<{ fullName: string; status: string; failureMessages: string[] }> }>;
    };
    const outcomes: Outcome[] = [];
    for (const file of report.testResults) {
      const name = relative(join(WORK, 'tests'), file.name);
      if (file.assertionResults.length === 0) outcomes.push({ file: name, title: '(file)', status: 'failed', message: firstLine(file.message ?? 'no test ran') });
      for (const t of file.assertionResults) outcomes.push({ file: name, title: t.fullName, status: t.status, message: firstLine(t.failureMessages[0] ?? '') });
    }
    const lines = ['| file | test | outcome | first line of the failure |', '|---|---|---|---|'];
    for (const o of outcomes) lines.push(`| ${o.file} | ${o.title.replaceAll('|', '\\|')} | ${o.status} | ${o.message.replaceAll('|', '\\|').slice(0, 200)} |`);
    const passed = outcomes.filter((o) => o.status === 'passed').length;
    lines.push('', `${passed} passed of ${outcomes.length} (${files.length} files)`);
    await writeFile(join(WORK, 'results.md'), `${lines.join('\n')}\n`);
    console.log(`E2B js-sdk suite: ${passed} passed of ${outcomes.length}; table in ${join(WORK, 'results.md')}`);
    const ran = new Set(outcomes.map((o) => o.file));
    const regressions = EXPECTED_PASS.filter((key) => ran.has(key.split(' > ')[0]!) && !outcomes.some((o) => `${o.file} > ${o.title}` === key && o.status === 'passed'));
    assert.deepEqual(regressions, [], 'tests that passed before fail now');
  });
});

function firstLine(s: string): string {
  return (s.split('\n').find((l) => l.trim()) ?? '').trim();
}
