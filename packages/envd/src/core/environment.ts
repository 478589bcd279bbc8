/** The environment a process starts with: login-like for its user, then capsule, then request. */
import type { UserInfo } from './users.js';

const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

export function processEnvironment(
  user: UserInfo,
  capsuleEnv: Record<string, string>,
  requestEnv: Record<string, string> = {},
): Record<string, string> {
  return {
    PATH: DEFAULT_PATH,
    HOME: user.home,
    USER: user.name,
    LOGNAME: user.name,
    SHELL: user.shell,
    LANG: 'C.UTF-8',
    ...capsuleEnv,
    ...requestEnv,
  };
}
