/**
 * Where the CLI finds the API: flags, then WRENN_API_URL / WRENN_API_KEY, then the config
 * file `wrenn up` writes ($XDG_CONFIG_HOME/wrenn/config.json, else ~/.config/wrenn/config.json,
 * mode 0600 because it holds an API key).
 */
import { chownSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';

export interface CliConfig {
  apiUrl: string;
  apiKey?: string;
  /** Where the values came from, for error messages. */
  source: string;
}

export interface ConfigFile {
  api_url: string;
  api_key?: string;
}

export function configPath(env: NodeJS.ProcessEnv = process.env, home = homedir()): string {
  const base = env.XDG_CONFIG_HOME || join(home, '.config');
  return join(base, 'wrenn', 'config.json');
}

export function readConfigFile(path: string): ConfigFile | undefined {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
  try {
    const parsed = JSON.parse(text) as ConfigFile;
    return typeof parsed?.api_url === 'string' ? parsed : undefined;
  } catch {
    throw new Error(`${path} is not valid JSON: fix or delete it (wrenn up writes it again)`);
  }
}

/** Writes the file atomically with mode 0600 (and the owner given, for sudo users). */
export function writeConfigFile(path: string, value: ConfigFile, owner?: { uid: number; gid: number }): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  if (owner) chownSync(dirname(path), owner.uid, owner.gid);
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(value, null, 2)}\n`, { mode: 0o600 });
  if (owner) chownSync(tmp, owner.uid, owner.gid);
  renameSync(tmp, path);
}

export function resolveConfig(flags: { apiUrl?: string; apiKey?: string }, env: NodeJS.ProcessEnv = process.env): CliConfig {
  const path = configPath(env);
  const file = flags.apiUrl && flags.apiKey ? undefined : readConfigFile(path);
  const apiUrl = flags.apiUrl || env.WRENN_API_URL || file?.api_url;
  const apiKey = flags.apiKey || env.WRENN_API_KEY || file?.api_key;
  if (!apiUrl) {
    throw new Error(`no API URL: run \`sudo wrenn up\` on this machine, or set WRENN_API_URL and WRENN_API_KEY (or pass --api-url/--api-key); looked in ${path}`);
  }
  const source = flags.apiUrl ? '--api-url' : env.WRENN_API_URL ? 'WRENN_API_URL' : path;
  return { apiUrl, ...(apiKey ? { apiKey } : {}), source };
}
