/**
 * Listing a team's capsules: everything not stopped, plus capsules stopped recently (so a
 * client that just destroyed one still sees it), newest first. Stopped rows are kept
 * for GET by id and usage history, but lists stay short.
 */
import type { Kysely } from 'kysely';
import { WrennError } from '@wrenn/shared';
import type { Capsule, CapsuleStatus, Database } from '../../db/schema.js';
import { listTeamCapsules } from '../../db/repos/capsules.js';
import { ALL_STATUSES } from './status.js';

export const STOPPED_VISIBLE_HOURS = 24;
/** Upper bound of one list (a team with more live capsules pages by status). */
const LIST_LIMIT = 1000;

export async function listCapsules(db: Kysely<Database>, teamId: string, statuses?: string[]): Promise<Capsule[]> {
  const unknown = statuses?.filter((s) => !ALL_STATUSES.includes(s as CapsuleStatus));
  if (unknown?.length) throw new WrennError('invalid_argument', `unknown status ${unknown.join(', ')}: use ${ALL_STATUSES.join(', ')}`);
  return listTeamCapsules(db, teamId, { statuses: statuses as CapsuleStatus[] | undefined, stoppedVisibleHours: STOPPED_VISIBLE_HOURS, limit: LIST_LIMIT });
}
