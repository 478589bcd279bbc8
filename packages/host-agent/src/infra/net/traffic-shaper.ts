/**
 * Per-capsule rate limit (docs/decisions.md#h10) with `tc`, both directions on the host side where the capsule
 * cannot touch it:
 * - download (host → capsule) leaves through the host veth end: a `tbf` root qdisc there;
 * - upload (capsule → host) arrives on the host veth end; ingress cannot queue, and this
 *   kernel has no `act_police`, so an ingress u32 filter redirects it (act_mirred) to the
 *   slot's IFB device, whose `tbf` root qdisc shapes it like an egress queue. IFB re-injects
 *   packets as received on the veth, so nftables still sees the capsule's interface.
 * Shaping queues instead of dropping, which keeps TCP close to the configured rate.
 */
import { WrennError } from '@wrenn/shared';
import { run } from '../exec.js';
import type { PlumbOptions } from './network.js';

/** Smallest burst that still passes a full-size frame plus slack. */
const MIN_BURST_BYTES = 16 * 1024;
/**
 * tc stores the bucket as time in 1/15.625 µs ticks in a u32, which overflows at ~274 s of
 * burst at the configured rate.
 */
const MAX_BURST_SECONDS = 250;
const MAX_U32 = 2 ** 32 - 1;

export function validateShaping(opts: Pick<PlumbOptions, 'rateBytesPerSec' | 'burstBytes'>): void {
  const { rateBytesPerSec: rate, burstBytes: burst } = opts;
  if (!Number.isSafeInteger(rate) || rate < 0) {
    throw new WrennError('invalid_argument', `network rate limit ${rate} B/s must be a non-negative integer (0 = unlimited)`, {
      rateBytesPerSec: rate,
    });
  }
  if (rate === 0) return;
  if (!Number.isSafeInteger(burst) || burst < MIN_BURST_BYTES || burst > MAX_U32) {
    throw new WrennError('invalid_argument', `network burst ${burst} bytes must be an integer between ${MIN_BURST_BYTES} and ${MAX_U32}`, {
      burstBytes: burst,
    });
  }
  if (burst / rate > MAX_BURST_SECONDS) {
    throw new WrennError(
      'invalid_argument',
      `network burst ${burst} bytes lasts ${Math.round(burst / rate)} s at ${rate} B/s; keep it under ${MAX_BURST_SECONDS} s of the rate (raise the rate or lower the burst)`,
      { rateBytesPerSec: rate, burstBytes: burst },
    );
  }
}

/** Installs the download and upload shapers; `hostIf` and `shaperIf` must exist and have no qdiscs. */
export async function applyShaping(
  hostIf: string,
  shaperIf: string,
  opts: Pick<PlumbOptions, 'rateBytesPerSec' | 'burstBytes'>,
  signal?: AbortSignal,
): Promise<void> {
  const tbf = tbfParams(opts.rateBytesPerSec, opts.burstBytes);
  const lines = [
    `qdisc add dev ${hostIf} root handle 1: ${tbf}`,
    `qdisc add dev ${hostIf} handle ffff: ingress`,
    `filter add dev ${hostIf} parent ffff: protocol all prio 1 u32 match u32 0 0 action mirred egress redirect dev ${shaperIf}`,
    `qdisc add dev ${shaperIf} root handle 1: ${tbf}`,
  ];
  await run('tc', ['-batch', '-'], { input: lines.join('\n') + '\n', signal });
}

function tbfParams(rateBytesPerSec: number, burstBytes: number): string {
  // Queue up to ~20 ms of traffic behind the bucket: enough for TCP to keep the link busy,
  // little enough that a shaped capsule does not hold megabytes of host memory or latency.
  const limitBytes = Math.min(4 * 1024 * 1024, Math.max(64 * 1024, Math.round(rateBytesPerSec * 0.02)));
  return `tbf rate ${rateBytesPerSec}bps burst ${burstBytes} limit ${limitBytes}`;
}
