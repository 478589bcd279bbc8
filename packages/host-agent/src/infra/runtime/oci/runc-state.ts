/**
 * What runc saved about a container (`<root>/<id>/state.json`), read directly: a `runc
 * state` process costs milliseconds on the pause path, the file a read. Only fields runc
 * has kept stable across releases are used; anything unexpected reads as unknown.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

export interface SavedRuncState {
  /** Host PID of the container's init. */
  pid: number;
  bundleDir: string;
  /** The CRIU config file runc hands to checkpoint/restore (annotation `org.criu.config`). */
  criuConfig?: string;
}

export async function readRuncState(runcRoot: string, id: string): Promise<SavedRuncState | undefined> {
  try {
    const raw = JSON.parse(await readFile(join(runcRoot, id, 'state.json'), 'utf8')) as {
      init_process_pid?: unknown;
      config?: { labels?: unknown };
    };
    const labels = Array.isArray(raw.config?.labels) ? (raw.config.labels as unknown[]).filter((l): l is string => typeof l === 'string') : [];
    const label = (key: string) => labels.find((l) => l.startsWith(`${key}=`))?.slice(key.length + 1);
    const pid = raw.init_process_pid;
    const bundleDir = label('bundle');
    if (typeof pid !== 'number' || !Number.isInteger(pid) || pid <= 0 || !bundleDir) return undefined;
    const criuConfig = label('org.criu.config');
    return { pid, bundleDir, ...(criuConfig ? { criuConfig } : {}) };
  } catch {
    return undefined;
  }
}
