/**
 * The CLI config `wrenn up` writes (API URL + key, mode 0600): for the user running it
 * and, under sudo, also for the user who called sudo (owned by them), so plain `wrenn`
 * commands work for both. A config that already holds a working key for this server is
 * left alone; otherwise a new key is created for the administrator's team.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { Wrenn, isWrennApiError } from '@wrenn/sdk';
import { configPath, readConfigFile, writeConfigFile } from '../config.js';

interface Target {
  path: string;
  owner?: { uid: number; gid: number };
}

/** The sudo caller's home, from the passwd database. */
function sudoUserHome(user: string): string | undefined {
  const r = spawnSync('getent', ['passwd', user], { encoding: 'utf8' });
  const home = r.status === 0 ? r.stdout.trim().split(':')[5] : undefined;
  return home || undefined;
}

function targets(env: NodeJS.ProcessEnv = process.env): Target[] {
  const out: Target[] = [{ path: configPath(env) }];
  const uid = Number(env.SUDO_UID);
  const gid = Number(env.SUDO_GID);
  if (env.SUDO_USER && env.SUDO_USER !== 'root' && Number.isInteger(uid) && uid > 0 && Number.isInteger(gid)) {
    const home = sudoUserHome(env.SUDO_USER);
    if (home && existsSync(home)) {
      const path = configPath({}, home);
      if (path !== out[0]!.path) out.push({ path, owner: { uid, gid } });
    }
  }
  return out;
}

async function keyWorks(apiUrl: string, apiKey: string): Promise<boolean> {
  try {
    await new Wrenn({ baseUrl: apiUrl, apiKey }).capsules.list({ timeoutMs: 10_000 });
    return true;
  } catch (err) {
    if (isWrennApiError(err) && (err.status === 401 || err.status === 403)) return false;
    throw err;
  }
}

export async function ensureCliConfig(opts: {
  /** URL written to the config. */
  apiUrl: string;
  /** URL this process reaches the API at (to check keys). */
  localUrl: string;
  created: boolean;
  apiKey?: string;
  adminClient: Wrenn;
}): Promise<{ paths: string[]; newKey?: string }> {
  let key = opts.apiKey;
  let newKey: string | undefined;
  if (!key) {
    const existing = readConfigFile(configPath());
    if (existing?.api_key && existing.api_url === opts.apiUrl && (await keyWorks(opts.localUrl, existing.api_key))) key = existing.api_key;
  }
  if (!key) {
    key = (await opts.adminClient.apiKeys.create({ name: 'wrenn up' })).key;
    newKey = key;
  }
  const paths: string[] = [];
  for (const t of targets()) {
    writeConfigFile(t.path, { api_url: opts.apiUrl, api_key: key }, t.owner);
    paths.push(t.path);
  }
  return { paths, ...(newKey ? { newKey } : {}) };
}
