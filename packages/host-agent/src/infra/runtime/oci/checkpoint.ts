/**
 * `runc checkpoint` of a running sandbox into an image directory (CRIU underneath): the
 * network is dumped first (whether its sockets need the network locked for the dump), the
 * image made readable for the restores that follow. The OciRuntime's checkpoint.
 */
import type { Logger } from '@wrenn/shared';
import type { CheckpointOptions, CheckpointResult } from '../runtime.js';
import { writeBundleCriuConfig } from '../../criu/runc-criu-config.js';
import { describeDeadline, withCriuErrors } from './criu-errors.js';
import { dumpNetwork } from './dump-network.js';
import { makeImageReadable, prepareImageDir } from './image-dir.js';
import * as argv from './runc-args.js';
import type { RuncCli } from './runc-cli.js';

export interface CheckpointDeps {
  cli: RuncCli;
  /** runc's --root. */
  runcRoot: string;
  log: Logger;
  globals: argv.RuncGlobalOptions;
}

export async function checkpointSandbox(d: CheckpointDeps, id: string, opts: CheckpointOptions): Promise<CheckpointResult> {
  const started = Date.now();
  const [, network] = await Promise.all([prepareImageDir(opts.imageDir), dumpNetwork(d.runcRoot, id)]);
  if (network.bundleDir) await writeBundleCriuConfig(network.bundleDir, { tcpClose: false, lockNetwork: network.lock });
  const args = argv.checkpointArgs(d.globals, { id, ...opts });
  const prepareMs = Date.now() - started;
  const spawnedAt = Date.now();
  // No default deadline: a multi-GB dump takes as long as it takes (docs/decisions.md#h4); callers pass one.
  // runc and the CRIU it starts are one process group, killed together on expiry.
  try {
    await d.cli.call(args, `runc checkpoint ${id}`, {
      processGroup: true,
      ...(opts.timeoutMs !== undefined ? { timeoutMs: opts.timeoutMs } : {}),
      ...(opts.signal ? { signal: opts.signal } : {}),
    });
  } catch (err) {
    throw await withCriuErrors(describeDeadline(err, `checkpoint of ${id}`, opts.timeoutMs), opts.imageDir, 'dump.log');
  } finally {
    // The default again, for whatever reads the file next.
    if (network.bundleDir && !network.lock) await writeBundleCriuConfig(network.bundleDir, { tcpClose: false }).catch(() => {});
  }
  const runcMs = Date.now() - spawnedAt;
  await makeImageReadable(opts.imageDir);
  d.log.info(
    { capsuleId: id, prepareMs, runcMs, readableMs: Date.now() - spawnedAt - runcMs, durationMs: Date.now() - started, leaveRunning: opts.leaveRunning ?? false, networkLocked: network.lock },
    'sandbox checkpointed',
  );
  // A dump that locked the network is restored with the lock too (the reverse is safe:
  // without TCP connections there is nothing for a lock to protect).
  return { socketsNeedNetwork: network.lock };
}
