/**
 * The agent's CRIU calls (pause, resume, snapshot templates), in one place so each gets
 * the same deadline (WRENN_PAUSE_TIMEOUT_MS), the same error wording, and, for restores,
 * the same lazy → eager fallback.
 */
import { WrennError, isWrennError, type DisposableStack, type Logger } from '@wrenn/shared';
import type { CheckpointOptions, CheckpointResult, RestoreOptions, RestoredSandbox, SandboxSpec } from '../../infra/runtime/runtime.js';
import type { CapsuleKit } from '../capsules/kit.js';
import type { RestoreNetwork } from './restore-network.js';

type CriuDeps = Pick<CapsuleKit, 'runtime' | 'settings'>;

/**
 * A CRIU dump or restore that overran its deadline (the runtime killed it) says which
 * setting the deadline comes from, so an operator with very large capsules knows what to
 * raise. Every other error passes through.
 */
function withTimeoutHint(err: unknown): never {
  if (!isWrennError(err) || err.code !== 'deadline_exceeded') throw err;
  throw new WrennError('deadline_exceeded', `${err.message} (the deadline is WRENN_PAUSE_TIMEOUT_MS)`, err.details, { cause: err });
}

export function checkpointSandbox(kit: CriuDeps, runtimeId: string, opts: Omit<CheckpointOptions, 'timeoutMs'>): Promise<CheckpointResult> {
  return kit.runtime.checkpoint(runtimeId, { ...opts, timeoutMs: kit.settings.pauseTimeoutMs }).catch(withTimeoutHint);
}

export interface RestoreAttempt {
  restored: RestoredSandbox;
  /** Whether the restore that worked was lazy. */
  lazy: boolean;
  /** The network plumbed for the restore that worked. */
  network: RestoreNetwork;
}

/**
 * Restores `spec`, lazily when `lazy`; a lazy restore that fails (for any reason but
 * cancellation or the deadline) is retried eagerly from the same image, which only a
 * restore reads, with its network made again. `undo` releases the network in use.
 */
export async function restoreSandbox(
  kit: CriuDeps,
  spec: SandboxSpec,
  lazy: boolean,
  makeNetwork: () => RestoreNetwork,
  options: Omit<RestoreOptions, 'timeoutMs' | 'lazyPages' | 'onNamespacesReady'>,
  undo: DisposableStack,
  log: Logger,
): Promise<RestoreAttempt> {
  let network = makeNetwork();
  undo.defer(() => network.release());
  const attempt = (lazyPages: boolean) =>
    kit.runtime
      .restore(spec, {
        ...options,
        lazyPages,
        timeoutMs: kit.settings.pauseTimeoutMs,
        onNamespacesReady: (pid) => network.onNamespacesReady(pid),
      })
      .catch(withTimeoutHint);
  try {
    return { restored: await attempt(lazy), lazy, network };
  } catch (err) {
    if (!lazy || (isWrennError(err) && (err.code === 'canceled' || err.code === 'deadline_exceeded'))) throw err;
    log.warn({ err: (err as Error).message }, 'lazy restore failed; restoring eagerly');
    await network.release();
    network = makeNetwork();
    return { restored: await attempt(false), lazy: false, network };
  }
}
