/**
 * Reaching a port of a capsule (a dev server, Jupyter, envd on 49983) through the control
 * plane's port proxy, in either of the two forms it accepts:
 *  - by host name `{port}-{capsuleId}.{domain}`, when the server runs with WRENN_PROXY_DOMAIN
 *    (and DNS sends `*.{domain}` to it): a URL a browser can open;
 *  - by headers `E2b-Sandbox-Id` and `E2b-Sandbox-Port` on the API's own URL: works with no
 *    DNS set-up, for programs that can add headers.
 *
 * @example
 * const target = capsulePort('http://127.0.0.1:8080', 'cl-abc', 3000);
 * await fetch(`${target.url}/`, { headers: target.headers });
 */

export interface CapsulePortTarget {
  /** Base URL (no trailing slash): append the path. */
  url: string;
  /** Headers every request to `url` must carry (empty for the host-name form). */
  headers: Record<string, string>;
}

/**
 * `{scheme}://{port}-{capsuleId}.{domain}[:{serverPort}]` for a server at `baseUrl`
 * (its scheme and port are kept, so a control plane on :8080 gives `...domain:8080`).
 */
export function capsulePortUrl(baseUrl: string, capsuleId: string, port: number, domain: string): string {
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new RangeError(`port must be 1-65535, got ${port}`);
  const base = new URL(baseUrl);
  return `${base.protocol}//${port}-${capsuleId}.${domain.replace(/^\.+|\.+$/g, '')}${base.port ? `:${base.port}` : ''}`;
}

/** Where to send requests for `port` of a capsule: the host-name form with `domain`, else the header form. */
export function capsulePort(baseUrl: string, capsuleId: string, port: number, domain?: string): CapsulePortTarget {
  if (domain) return { url: capsulePortUrl(baseUrl, capsuleId, port, domain), headers: {} };
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new RangeError(`port must be 1-65535, got ${port}`);
  return { url: new URL(baseUrl).origin, headers: { 'E2b-Sandbox-Id': capsuleId, 'E2b-Sandbox-Port': String(port) } };
}
