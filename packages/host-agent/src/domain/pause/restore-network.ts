/**
 * The network of a sandbox being restored (resume, or a new capsule from a snapshot
 * template): plumbed from the restore's namespaces hook — the guest end there (CRIU waits
 * for it when the image has connections to re-open), the host end while CRIU restores the
 * processes — and awaited once the restore returned. Release waits for plumbing still in flight, so nothing it adds
 * (links, rules) can appear after the release removed them.
 */
import type { CapsuleRecord } from '../capsule-record.js';
import { plumbOptions, type CapsuleKit } from '../capsules/kit.js';
import type { NetworkSlot } from '../ports.js';

export interface RestoreNetwork {
  /** For RestoreOptions.onNamespacesReady. */
  onNamespacesReady(pid: number): Promise<void>;
  /** Resolves once the host end is plumbed too (rejects if that failed). */
  ready(): Promise<void>;
  /** Removes the slot's interfaces and rules (after any plumbing in flight). Idempotent. */
  release(): Promise<void>;
}

export function restoreNetwork(kit: Pick<CapsuleKit, 'network' | 'settings'>, slot: NetworkSlot, record: CapsuleRecord, signal?: AbortSignal): RestoreNetwork {
  let complete: Promise<void> = Promise.resolve();
  return {
    onNamespacesReady(pid) {
      const plumbing = kit.network.plumbRestored(slot, pid, plumbOptions(kit, record), signal);
      complete = plumbing.complete;
      return plumbing.guestReady;
    },
    ready: () => complete,
    async release() {
      await complete.catch(() => {});
      await kit.network.unplumb(slot);
    },
  };
}
