/**
 * `wrenn service install|status|uninstall` with the compiled CLI into temporary unit and
 * environment directories, and the units it writes checked by systemd's own verifier
 * (`systemd-analyze verify`: syntax, directives, that ExecStart's binary exists). The
 * start/stop/adopt behaviour the agent unit relies on (SIGTERM to the agent alone leaves
 * capsules running) is tested with the real compiled agent in host-agent's
 * compiled-agent.test.ts, since systemd is not the service manager on the test machines.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cleanEnv, REPO, wrenn } from './cli-helpers.js';

const systemd = existsSync('/run/systemd/system');

function verify(dir: string, units: string[]): { status: number | null; output: string } {
  const r = spawnSync('systemd-analyze', ['verify', ...units.map((u) => join(dir, u))], { encoding: 'utf8' });
  return { status: r.status, output: `${r.stdout}${r.stderr}`.trim() };
}

test('wrenn service install writes units systemd-analyze accepts, keeps existing configuration, uninstall removes the units', { skip: systemd ? 'systemd runs here: install would enable units on this machine' : false }, async () => {
  const base = mkdtempSync(join(tmpdir(), 'wrenn-service-test-'));
  const unitDir = join(base, 'units');
  const envDir = join(base, 'etc-wrenn');
  const env = cleanEnv({ HOME: base });
  const dirs = ['--unit-dir', unitDir, '--env-dir', envDir];
  try {
    const install = await wrenn(['service', 'install', ...dirs, '--control-plane-url', 'http://127.0.0.1:8080', '--register-token', 'hrg_test'], env);
    assert.equal(install.code, 0, install.stderr);
    assert.match(install.stdout, /systemd is not running here/);

    const units = ['wrenn-control-plane.service', 'wrenn-agent.service'];
    const agentUnit = readFileSync(join(unitDir, 'wrenn-agent.service'), 'utf8');
    assert.match(agentUnit, new RegExp(`^ExecStart=${process.execPath} ${REPO}/packages/host-agent/bin/wrenn-agent\\.mjs$`, 'm'));
    assert.match(agentUnit, /^KillMode=process$/m, 'stopping the agent leaves capsules running');
    assert.match(agentUnit, /^Restart=on-failure$/m);
    assert.match(agentUnit, new RegExp(`^EnvironmentFile=${envDir}/agent\\.env$`, 'm'));
    assert.doesNotMatch(agentUnit + readFileSync(join(unitDir, units[0]!), 'utf8'), /@[A-Z_]+@/, 'every placeholder filled');

    const checked = verify(unitDir, units);
    assert.equal(checked.status, 0, checked.output);
    assert.equal(checked.output, '', `systemd-analyze verify found problems:\n${checked.output}`);
    // The check is not blind: a broken directive is reported.
    writeFileSync(join(base, 'broken.service'), agentUnit.replace('KillMode=process', 'KillMode=sometimes'));
    assert.match(verify(base, ['broken.service']).output, /kill mode/i);

    const agentEnv = join(envDir, 'agent.env');
    assert.equal(statSync(agentEnv).mode & 0o777, 0o600, 'environment files may hold secrets');
    assert.match(readFileSync(agentEnv, 'utf8'), /^WRENN_REGISTER_TOKEN=hrg_test$/m);
    assert.match(readFileSync(agentEnv, 'utf8'), /^WRENN_CONTROL_PLANE_URL=http:\/\/127\.0\.0\.1:8080$/m);

    // A second install keeps the administrator's configuration.
    const cpEnv = join(envDir, 'control-plane.env');
    writeFileSync(cpEnv, 'WRENN_CP_PORT=9999\n', { mode: 0o600 });
    const again = await wrenn(['service', 'install', ...dirs], env);
    assert.equal(again.code, 0, again.stderr);
    assert.equal(readFileSync(cpEnv, 'utf8'), 'WRENN_CP_PORT=9999\n');

    const status = await wrenn(['--json', 'service', 'status', ...dirs], env);
    assert.equal(status.code, 0, status.stderr);
    const states = JSON.parse(status.stdout) as Array<{ component: string; installed: boolean; envFile: boolean }>;
    assert.deepEqual(states.map((s) => [s.component, s.installed, s.envFile]), [['control-plane', true, true], ['agent', true, true]]);

    const bad = await wrenn(['service', 'install', ...dirs, '--component', 'database'], env);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /--component must be all, control-plane or agent/);

    const un = await wrenn(['service', 'uninstall', ...dirs], env);
    assert.equal(un.code, 0, un.stderr);
    for (const u of units) assert.equal(existsSync(join(unitDir, u)), false, `${u} removed`);
    assert.ok(existsSync(agentEnv) && existsSync(cpEnv), 'configuration kept');
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
});
