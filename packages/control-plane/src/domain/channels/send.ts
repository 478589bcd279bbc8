/**
 * Sends one provider request. A channel's URL is chosen by a team member, so unless
 * WRENN_CHANNEL_ALLOW_PRIVATE is set the control plane refuses to reach loopback, private,
 * link-local, CGNAT and other non-public addresses (it would otherwise be a way into the
 * control plane's own network: hosts' agents, the database, cloud metadata). The check is
 * made on the address actually connected to (a lookup hook on the socket), so a name that
 * resolves to a public address when checked and a private one when used gains nothing, and
 * redirects are not followed.
 */
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { BlockList, isIP, type LookupFunction } from 'node:net';
import type { OutgoingRequest } from './providers.js';

const NON_PUBLIC = new BlockList();
for (const [net, bits] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
] as const) {
  NON_PUBLIC.addSubnet(net, bits, 'ipv4');
}
for (const [net, bits] of [
  ['::', 128],
  ['::1', 128],
  ['fc00::', 7],
  ['fe80::', 10],
  ['ff00::', 8],
  ['64:ff9b::', 96],
] as const) {
  NON_PUBLIC.addSubnet(net, bits, 'ipv6');
}

/** True for an address a channel may not reach unless private targets are allowed. */
export function isNonPublicAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 4) return NON_PUBLIC.check(address, 'ipv4');
  if (family !== 6) return true;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return NON_PUBLIC.check(mapped[1]!, 'ipv4');
  return NON_PUBLIC.check(address, 'ipv6');
}

export class DeliveryError extends Error {}

export interface SendOptions {
  allowPrivate: boolean;
  timeoutMs: number;
}

/** A lookup that fails for names resolving to a non-public address. */
const guardedLookup: LookupFunction = (hostname, options, callback) => {
  dnsLookup(hostname, { ...options, all: true }, (err, addresses) => {
    if (err) return callback(err, '', 0);
    const list = addresses as LookupAddress[];
    const bad = list.find((a) => isNonPublicAddress(a.address));
    if (bad) return callback(new DeliveryError(`${hostname} resolves to ${bad.address}, a non-public address (WRENN_CHANNEL_ALLOW_PRIVATE is off)`), '', 0);
    const first = list[0];
    if (!first) return callback(new DeliveryError(`${hostname} has no address`), '', 0);
    // Node asks with all:true when it wants every address (happy eyeballs).
    if ((options as { all?: boolean }).all) return (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, list);
    return callback(null, first.address, first.family);
  });
};

/** Sends `req`; resolves with the answer's status and first bytes, rejects (DeliveryError) on anything but 2xx. */
export function sendRequest(req: OutgoingRequest, opts: SendOptions): Promise<{ status: number }> {
  return new Promise((resolve, reject) => {
    let url: URL;
    try {
      url = new URL(req.url);
    } catch {
      return reject(new DeliveryError('the channel URL is not a URL'));
    }
    const host = url.hostname.replace(/^\[|\]$/g, '');
    if (!opts.allowPrivate && isIP(host) && isNonPublicAddress(host)) {
      return reject(new DeliveryError(`${host} is a non-public address (WRENN_CHANNEL_ALLOW_PRIVATE is off)`));
    }
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
    const body = Buffer.from(req.body);
    const r = send(
      url,
      {
        method: req.method,
        headers: { ...req.headers, 'content-length': String(body.length), 'user-agent': 'Wrenn-Notifications/1' },
        timeout: opts.timeoutMs,
        ...(opts.allowPrivate ? {} : { lookup: guardedLookup }),
      },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          if (size < 512) chunks.push(c);
          size += c.length;
        });
        res.on('end', () => {
          const status = res.statusCode ?? 0;
          if (status >= 200 && status < 300) return resolve({ status });
          const text = Buffer.concat(chunks).toString('utf8').slice(0, 200).replace(/\s+/g, ' ').trim();
          reject(new DeliveryError(`the receiver answered HTTP ${status}${text ? `: ${text}` : ''}`));
        });
        res.on('error', (err) => reject(new DeliveryError(`reading the answer failed: ${err.message}`)));
      },
    );
    r.on('timeout', () => r.destroy(new DeliveryError(`no answer within ${opts.timeoutMs} ms`)));
    r.on('error', (err) => reject(err instanceof DeliveryError ? err : new DeliveryError(`${req.method} ${url.origin} failed: ${err.message}`)));
    r.end(body);
  });
}
