import { createContext } from 'preact';
import { useContext } from 'preact/hooks';
import type { User } from './api.js';

export interface SessionState {
  readonly user: User;
  readonly signOut: () => Promise<void>;
}

export const SessionContext = createContext<SessionState | null>(null);

/** The signed-in user; only pages inside the signed-in layout call this. */
export function useSession(): SessionState {
  const session = useContext(SessionContext);
  if (session === null) throw new Error('useSession is used outside the signed-in layout');
  return session;
}

/** The login page's return address, limited to paths on this site. */
export function safeNext(next: string | undefined): string {
  if (
    next === undefined ||
    !next.startsWith('/') ||
    next.startsWith('//') ||
    next.startsWith('/\\')
  ) {
    return '/console';
  }
  return next;
}

export function loginHref(path: string): string {
  return `/console/login?next=${encodeURIComponent(path)}`;
}
