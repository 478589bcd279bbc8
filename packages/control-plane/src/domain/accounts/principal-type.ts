/** Who a request acts as, once its credentials are resolved (see principal.ts). */
import type { Role } from '../../db/schema.js';

export type Principal =
  | { kind: 'user'; userId: string; teamId: string; role: Role; isAdmin: boolean }
  | { kind: 'apiKey'; keyId: string; teamId: string; userId: string | null }
  | { kind: 'host'; hostId: string };

export type PrincipalKind = Principal['kind'];
