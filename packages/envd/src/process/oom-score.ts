/**
 * A memory or fork bomb inside the capsule must kill the bomb, not envd (the capsule's only
 * way in). The host agent lowers envd's oom_score_adj to -1000 from outside where it may
 * (CAP_SYS_RESOURCE); otherwise envd keeps the capsule default, 500. Either way the
 * processes envd starts get CHILD_OOM_SCORE_ADJ (1000): the OOM killer's first choice.
 *
 * Children inherit their parent's score at fork, so `spawning` raises envd's own score to
 * CHILD_OOM_SCORE_ADJ for the synchronous fork of a child (node's spawn and node-pty fork
 * before they return) and lowers it again after. Raising one's own score needs no
 * privilege; lowering it back is allowed down to the floor the last privileged write set
 * (-1000 after the agent's, the capsule default otherwise).
 */
import { readFileSync, writeFileSync } from 'node:fs';

/** The processes envd starts: killed before envd (and, like every capsule process, before the host's own). */
export const CHILD_OOM_SCORE_ADJ = 1000;

const SELF = '/proc/self/oom_score_adj';

function read(): number | undefined {
  try {
    return Number(readFileSync(SELF, 'utf8').trim());
  } catch {
    return undefined;
  }
}

function write(value: number): boolean {
  try {
    writeFileSync(SELF, String(value));
    return true;
  } catch {
    return false;
  }
}

/** Runs `fork` (which must fork synchronously) with envd's OOM score raised to the children's. */
export function spawning<T>(fork: () => T): T {
  const own = read();
  if (own === undefined || own >= CHILD_OOM_SCORE_ADJ || !write(CHILD_OOM_SCORE_ADJ)) return fork();
  try {
    return fork();
  } finally {
    write(own);
  }
}
