/**
 * The logged-in session (JWT, user, current team), kept in localStorage so a reload stays
 * logged in, with a tiny subscription so the shell re-renders when it changes.
 */
import { useSyncExternalStore } from 'react';
import type { Session } from './types';

const KEY = 'wrenn.session';
const listeners = new Set<() => void>();
let current: Session | null = read();

function read(): Session | null {
  try {
    const raw = localStorage.getItem(KEY);
    if (!raw) return null;
    const s = JSON.parse(raw) as Session;
    // A JWT past its expiry is no session: do not show pages that would all fail.
    const exp = JSON.parse(atob(s.token.split('.')[1] ?? '')) as { exp?: number };
    if (exp.exp && exp.exp * 1000 < Date.now()) return null;
    return s;
  } catch {
    return null;
  }
}

export const session = {
  get: () => current,
  set(s: Session) {
    current = s;
    localStorage.setItem(KEY, JSON.stringify(s));
    for (const l of listeners) l();
  },
  subscribe(l: () => void) {
    listeners.add(l);
    return () => listeners.delete(l);
  },
};

export function clearSession(): void {
  current = null;
  localStorage.removeItem(KEY);
  for (const l of listeners) l();
}

export function useSession(): Session | null {
  return useSyncExternalStore(session.subscribe, session.get);
}
