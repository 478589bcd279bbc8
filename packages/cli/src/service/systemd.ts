/**
 * `wrenn service`: the control plane and the host agent as systemd services. The unit and
 * environment templates ship in deploy/systemd; installing fills in this machine's node
 * binary and this checkout, writes the units, writes each environment file only when it
 * does not exist yet (it is the administrator's configuration: never overwritten, mode
 * 0600 since it may hold a database URL or a registration token), then reloads systemd and
 * enables the units. Where systemd is not running (a container, a build machine) the files
 * are written and the systemctl steps are said, not run.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

export const WRENN_ROOT = resolve(import.meta.dirname, '../../../..');
const TEMPLATES = join(WRENN_ROOT, 'deploy/systemd');

export const COMPONENTS = {
  'control-plane': { unit: 'wrenn-control-plane.service', env: 'control-plane.env', bin: 'packages/control-plane/bin/wrenn-control-plane.mjs' },
  agent: { unit: 'wrenn-agent.service', env: 'agent.env', bin: 'packages/host-agent/bin/wrenn-agent.mjs' },
} as const;
export type Component = keyof typeof COMPONENTS;

export interface ServiceOptions {
  components: Component[];
  unitDir: string;
  envDir: string;
  /** Agent: first-start registration, written into agent.env. */
  controlPlaneUrl?: string;
  registerToken?: string;
  /** Start the units after enabling them. */
  now?: boolean;
  log: (line: string) => void;
}

/** systemd is the running service manager (its own test, as sd_booted() does it). */
export function systemdRunning(): boolean {
  return existsSync('/run/systemd/system');
}

export function renderUnit(component: Component, envDir: string, node = process.execPath, root = WRENN_ROOT): string {
  const template = readFileSync(join(TEMPLATES, COMPONENTS[component].unit), 'utf8');
  return template.replaceAll('@NODE@', node).replaceAll('@WRENN_ROOT@', root).replaceAll('@ENV_DIR@', envDir);
}

function writeAtomic(path: string, text: string, mode: number): void {
  writeFileSync(`${path}.tmp`, text, { mode });
  chmodSync(`${path}.tmp`, mode);
  renameSync(`${path}.tmp`, path);
}

/** Sets KEY=value lines (replacing a commented or earlier one) in an environment file's text. */
export function setEnvLines(text: string, values: Record<string, string>): string {
  let out = text;
  for (const [key, value] of Object.entries(values)) {
    if (/[\n\r\0]/.test(value)) throw new Error(`${key} must be one line`);
    const line = `${key}=${value}`;
    const re = new RegExp(`^#?\\s*${key}=.*$`, 'm');
    out = re.test(out) ? out.replace(re, line) : `${out.replace(/\n?$/, '\n')}${line}\n`;
  }
  return out;
}

function systemctl(args: string[]): { ok: boolean; out: string } {
  const r = spawnSync('systemctl', args, { encoding: 'utf8' });
  return { ok: r.status === 0, out: `${r.stdout ?? ''}${r.stderr ?? ''}`.trim() || (r.error?.message ?? '') };
}

export function installServices(opts: ServiceOptions): void {
  for (const c of opts.components) {
    if (!existsSync(join(WRENN_ROOT, COMPONENTS[c].bin)) || !existsSync(join(WRENN_ROOT, COMPONENTS[c].bin.replace(/bin\/(.*)$/, 'dist/bin/$1')))) {
      throw new Error(`${c} is not built (${COMPONENTS[c].bin}): run scripts/setup.sh first`);
    }
  }
  mkdirSync(opts.unitDir, { recursive: true });
  mkdirSync(opts.envDir, { recursive: true, mode: 0o755 });
  for (const c of opts.components) {
    const { unit, env } = COMPONENTS[c];
    writeAtomic(join(opts.unitDir, unit), renderUnit(c, opts.envDir), 0o644);
    opts.log(`wrote ${join(opts.unitDir, unit)}`);
    const envPath = join(opts.envDir, env);
    const register: Record<string, string> = {};
    if (c === 'agent' && opts.controlPlaneUrl) register.WRENN_CONTROL_PLANE_URL = opts.controlPlaneUrl;
    if (c === 'agent' && opts.registerToken) register.WRENN_REGISTER_TOKEN = opts.registerToken;
    if (!existsSync(envPath)) {
      writeAtomic(envPath, setEnvLines(readFileSync(join(TEMPLATES, env), 'utf8'), register), 0o600);
      opts.log(`wrote ${envPath} (edit it to configure the ${c})`);
    } else if (Object.keys(register).length > 0) {
      writeAtomic(envPath, setEnvLines(readFileSync(envPath, 'utf8'), register), 0o600);
      opts.log(`updated ${envPath}: ${Object.keys(register).join(', ')}`);
    } else {
      opts.log(`kept ${envPath} (existing configuration)`);
    }
  }
  const units = opts.components.map((c) => COMPONENTS[c].unit);
  if (!systemdRunning()) {
    opts.log(`systemd is not running here: on a systemd machine, run: systemctl daemon-reload && systemctl enable --now ${units.join(' ')}`);
    return;
  }
  for (const args of [['daemon-reload'], ['enable', ...(opts.now ? ['--now'] : []), ...units]]) {
    const r = systemctl(args);
    if (!r.ok) throw new Error(`systemctl ${args.join(' ')} failed: ${r.out}`);
  }
  opts.log(`enabled ${units.join(', ')}${opts.now ? ' and started them' : `: start with systemctl start ${units.join(' ')}`}`);
}

export function uninstallServices(opts: ServiceOptions): void {
  const units = opts.components.map((c) => COMPONENTS[c].unit);
  if (systemdRunning()) {
    // Stopping the agent leaves capsules running (KillMode=process): a later install adopts them.
    const r = systemctl(['disable', '--now', ...units]);
    if (!r.ok) opts.log(`systemctl disable --now: ${r.out}`);
  }
  for (const unit of units) {
    const path = join(opts.unitDir, unit);
    if (existsSync(path)) {
      rmSync(path);
      opts.log(`removed ${path}`);
    }
  }
  if (systemdRunning()) systemctl(['daemon-reload']);
  opts.log(`kept ${opts.components.map((c) => join(opts.envDir, COMPONENTS[c].env)).join(', ')} (configuration) and the data dir`);
}

export interface ServiceState {
  component: Component;
  unit: string;
  installed: boolean;
  envFile: boolean;
  enabled: string;
  active: string;
}

export function serviceStatus(opts: Pick<ServiceOptions, 'components' | 'unitDir' | 'envDir'>): ServiceState[] {
  const running = systemdRunning();
  return opts.components.map((c) => {
    const { unit, env } = COMPONENTS[c];
    const installed = existsSync(join(opts.unitDir, unit));
    const ask = (verb: string) => (running ? systemctl([verb, unit]).out.split('\n')[0] || 'unknown' : 'systemd not running');
    return { component: c, unit, installed, envFile: existsSync(join(opts.envDir, env)), enabled: installed ? ask('is-enabled') : '-', active: installed ? ask('is-active') : '-' };
  });
}
