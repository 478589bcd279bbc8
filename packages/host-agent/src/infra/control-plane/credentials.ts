/**
 * The agent's control plane credentials, `<dataDir>/control-plane.json` (0600): the control
 * plane's URL, this host's id there and the refresh token, which rotates on every use.
 */
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '@wrenn/shared';

export const CREDENTIALS_FILE = 'control-plane.json';

export interface SavedCredentials {
  control_plane_url: string;
  host_id: string;
  refresh_token: string;
}

export function credentialsPath(dataDir: string): string {
  return join(dataDir, CREDENTIALS_FILE);
}

/** The saved credentials; a malformed file is reported and treated as absent (a registration token can replace it). */
export async function readCredentials(dataDir: string, log: Logger): Promise<SavedCredentials | undefined> {
  const path = credentialsPath(dataDir);
  let text: string;
  try {
    text = await fsp.readFile(path, 'utf8');
  } catch {
    return undefined;
  }
  try {
    const c = JSON.parse(text) as Partial<SavedCredentials>;
    if (typeof c.control_plane_url === 'string' && typeof c.host_id === 'string' && typeof c.refresh_token === 'string') return c as SavedCredentials;
  } catch {
    // reported below
  }
  log.error({ path }, 'saved control plane credentials are malformed: ignored (register again with --register TOKEN)');
  return undefined;
}

/** Written to a temporary file (0600) and renamed over the old one, so a crash never leaves half a file. */
export async function writeCredentials(dataDir: string, creds: SavedCredentials): Promise<void> {
  const path = credentialsPath(dataDir);
  const tmp = `${path}.${process.pid}.tmp`;
  await fsp.writeFile(tmp, `${JSON.stringify(creds, null, 2)}\n`, { mode: 0o600 });
  await fsp.chmod(tmp, 0o600);
  await fsp.rename(tmp, path);
}
