/**
 * Users and groups of the capsule, read from its own /etc/passwd and /etc/group (not
 * through libc: envd runs on any rootfs, including busybox ones without NSS).
 */
import { readFileSync, statSync } from 'node:fs';
import { WrennError } from '@wrenn/shared';

export interface UserInfo {
  readonly name: string;
  readonly uid: number;
  readonly gid: number;
  readonly home: string;
  readonly shell: string;
  /** Supplementary group ids (from /etc/group), including the primary gid. */
  readonly groups: readonly number[];
}

interface ParsedDb {
  readonly mtimeMs: number;
  readonly users: Map<string, UserInfo>;
  readonly usersByUid: Map<number, UserInfo>;
  readonly groupNames: Map<number, string>;
}

const ROOT: UserInfo = { name: 'root', uid: 0, gid: 0, home: '/root', shell: '/bin/sh', groups: [0] };

/** Reads the user database lazily and re-reads it when /etc/passwd or /etc/group change. */
export class UserDirectory {
  private cache: ParsedDb | undefined;

  constructor(private readonly etcDir = '/etc') {}

  /** Looks a user up by name (or numeric uid); throws `user_not_found`. */
  lookup(nameOrUid: string): UserInfo {
    const db = this.db();
    const byName = db.users.get(nameOrUid);
    if (byName) return byName;
    if (/^\d+$/.test(nameOrUid)) {
      const byUid = db.usersByUid.get(Number(nameOrUid));
      if (byUid) return byUid;
    }
    if (nameOrUid === 'root') return ROOT;
    throw new WrennError('user_not_found', `user ${JSON.stringify(nameOrUid)} does not exist in this capsule`, {
      user: nameOrUid,
    });
  }

  /** Name of a uid, or the number as a string when it has none. */
  userName(uid: number): string {
    return this.db().usersByUid.get(uid)?.name ?? (uid === 0 ? 'root' : String(uid));
  }

  groupName(gid: number): string {
    return this.db().groupNames.get(gid) ?? (gid === 0 ? 'root' : String(gid));
  }

  private db(): ParsedDb {
    const mtimeMs = mtimeOf(`${this.etcDir}/passwd`) + mtimeOf(`${this.etcDir}/group`);
    if (this.cache && this.cache.mtimeMs === mtimeMs) return this.cache;
    const groupNames = new Map<number, string>();
    const membersOf = new Map<string, number[]>();
    for (const line of readLines(`${this.etcDir}/group`)) {
      const [name, , gidText, members] = line.split(':');
      const gid = Number(gidText);
      if (!name || !Number.isInteger(gid)) continue;
      groupNames.set(gid, name);
      for (const member of (members ?? '').split(',').filter(Boolean)) {
        membersOf.set(member, [...(membersOf.get(member) ?? []), gid]);
      }
    }
    const users = new Map<string, UserInfo>();
    const usersByUid = new Map<number, UserInfo>();
    for (const line of readLines(`${this.etcDir}/passwd`)) {
      const [name, , uidText, gidText, , home, shell] = line.split(':');
      const uid = Number(uidText);
      const gid = Number(gidText);
      if (!name || !Number.isInteger(uid) || !Number.isInteger(gid)) continue;
      const user: UserInfo = {
        name,
        uid,
        gid,
        home: home || '/',
        shell: shell || '/bin/sh',
        groups: [...new Set([gid, ...(membersOf.get(name) ?? [])])],
      };
      users.set(name, user);
      if (!usersByUid.has(uid)) usersByUid.set(uid, user);
    }
    this.cache = { mtimeMs, users, usersByUid, groupNames };
    return this.cache;
  }
}

function mtimeOf(path: string): number {
  try {
    return statSync(path).mtimeMs;
  } catch {
    return 0;
  }
}

function readLines(path: string): string[] {
  try {
    return readFileSync(path, 'utf8')
      .split('\n')
      .filter((l) => l && !l.startsWith('#'));
  } catch {
    return [];
  }
}
