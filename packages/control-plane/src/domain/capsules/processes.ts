/**
 * Background processes of a running capsule (docs/decisions.md#c5): list them, kill one by PID or by tag.
 * A selector of only digits is a PID, anything else a tag (so tags are never all digits).
 */
import type { ControlPlaneContext } from '../../context.js';
import { renameNotFound } from './agent-errors.js';
import { usableCapsule } from './pause.js';

export interface ProcessView {
  pid: number;
  tag: string | null;
  cmd: string;
  args: string[];
}

export type KillSignal = 'SIGTERM' | 'SIGKILL';

export function parseSelector(selector: string): { case: 'pid'; value: number } | { case: 'tag'; value: string } {
  return /^\d+$/.test(selector) ? { case: 'pid', value: Number(selector) } : { case: 'tag', value: selector };
}

export async function listProcesses(ctx: ControlPlaneContext, teamId: string, capsuleId: string): Promise<ProcessView[]> {
  const { agent } = await usableCapsule(ctx, teamId, capsuleId, 'list processes');
  const res = await agent.listProcesses({ capsuleId }, { timeoutMs: 30_000 });
  return res.processes.map((p) => ({ pid: p.pid, tag: p.tag || null, cmd: p.cmd, args: p.args }));
}

export async function killProcess(ctx: ControlPlaneContext, teamId: string, capsuleId: string, selector: string, signal: KillSignal): Promise<void> {
  const { agent } = await usableCapsule(ctx, teamId, capsuleId, 'kill a process');
  const sel = parseSelector(selector);
  try {
    await agent.killProcess({ capsuleId, process: { selector: sel }, signal }, { timeoutMs: 30_000 });
  } catch (err) {
    const what = sel.case === 'pid' ? `PID ${sel.value}` : `tag ${JSON.stringify(sel.value)}`;
    throw renameNotFound(err, 'process_not_found', `no process with ${what} in capsule ${capsuleId}: list them with GET .../processes`, { capsuleId, selector });
  }
}
