/** Everything a handler needs, built once at start and passed down (no globals). */
import type { Logger } from '@wrenn/shared';
import type { EnvdConfig } from '../start/config.js';
import type { ConnectionTracker } from './connections.js';
import type { EnvdState } from './state.js';
import type { Subsystem } from './subsystem.js';
import type { UserDirectory } from './users.js';

export interface EnvdContext {
  readonly config: EnvdConfig;
  readonly state: EnvdState;
  readonly users: UserDirectory;
  readonly logger: Logger;
  readonly connections: ConnectionTracker;
  /** Background subsystems stopped by /snapshot/prepare and restarted by /init. */
  readonly subsystems: Subsystem[];
}
