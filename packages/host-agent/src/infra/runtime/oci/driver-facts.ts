/** What the runc driver learns about the host once, before its first sandbox: cgroup layout, fd limit, CRIU configs. */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '@wrenn/shared';
import { detectCgroupLayout, type CgroupLayout } from '../../cgroup/layout.js';
import { writeRuncCriuConfigs, type RuncCriuConfigs } from '../../criu/runc-criu-config.js';
import { maxNofileHard, nprocPerUserNamespace } from './host-limits.js';
import { NOFILE_HARD } from './spec.js';

export interface DriverFacts {
  layout: CgroupLayout;
  nofileHard: number;
  /** RLIMIT_NPROC is per capsule on this kernel (see nprocPerUserNamespace): a pids reserve for envd is possible. */
  nprocPerUserNamespace: boolean;
  criuConfigs: RuncCriuConfigs;
}

export async function probeDriverFacts(runcRoot: string, dataDir: string, log: Logger): Promise<DriverFacts> {
  await mkdir(runcRoot, { recursive: true, mode: 0o700 });
  const [layout, nofileHard, criuConfigs] = await Promise.all([detectCgroupLayout(), maxNofileHard(NOFILE_HARD), writeRuncCriuConfigs(join(dataDir, 'criu'))]);
  const nproc = nprocPerUserNamespace();
  log.info({ cgroupMode: layout.mode, swapAccounting: layout.swapAccounting, nofileHard, nprocPerUserNamespace: nproc }, 'runc driver ready');
  return { layout, nofileHard, nprocPerUserNamespace: nproc, criuConfigs };
}
