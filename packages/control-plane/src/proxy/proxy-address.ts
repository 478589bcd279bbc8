/**
 * Which requests are proxied to a capsule port, and to which: E2B's two forms (docs/decisions.md#a5),
 * which the unmodified `e2b` SDK uses with E2B_SANDBOX_URL or a sandbox domain.
 *
 *   Host: {port}-{capsuleId}.{WRENN_PROXY_DOMAIN}          (when the domain is configured)
 *   E2b-Sandbox-Id: {capsuleId} + E2b-Sandbox-Port: {port} (always)
 *
 * Anything else is the control plane's own API.
 */
import type { IncomingMessage } from 'node:http';
import { WrennError } from '@wrenn/shared';

export interface ProxyAddress {
  capsuleId: string;
  port: number;
}

export const SANDBOX_ID_HEADER = 'e2b-sandbox-id';
export const SANDBOX_PORT_HEADER = 'e2b-sandbox-port';

/** Capsule ids are `cl-` + lower-case letters and digits; anything outside that alphabet is not one. */
const CAPSULE_ID = /^[a-z0-9][a-z0-9_-]{0,127}$/;
const HOST_LABEL = /^(\d{1,5})-([a-z0-9][a-z0-9_-]{0,127})$/;

function validPort(n: number): boolean {
  return Number.isInteger(n) && n >= 1 && n <= 65535;
}

function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/**
 * The capsule and port a request is for, or undefined for the control plane's own routes.
 * A request that names a capsule by header but badly is refused (400), not served as API.
 */
export function proxyAddress(req: IncomingMessage, domain: string | undefined): ProxyAddress | undefined {
  const id = header(req, SANDBOX_ID_HEADER);
  const portHeader = header(req, SANDBOX_PORT_HEADER);
  if (id !== undefined || portHeader !== undefined) {
    const port = Number(portHeader);
    if (!id || !CAPSULE_ID.test(id) || !validPort(port)) {
      throw new WrennError('invalid_argument', `a proxied request needs E2b-Sandbox-Id (a capsule id) and E2b-Sandbox-Port (1-65535); got ${JSON.stringify(id ?? '')} and ${JSON.stringify(portHeader ?? '')}`);
    }
    return { capsuleId: id, port };
  }
  if (!domain) return undefined;
  const host = (header(req, 'host') ?? '').toLowerCase().replace(/:\d+$/, '').replace(/\.$/, '');
  if (!host.endsWith(`.${domain}`)) return undefined;
  const m = HOST_LABEL.exec(host.slice(0, -(domain.length + 1)));
  if (!m || !validPort(Number(m[1]))) return undefined;
  return { capsuleId: m[2]!, port: Number(m[1]) };
}
