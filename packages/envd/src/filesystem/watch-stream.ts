/**
 * WatchDir: a server stream that opens with a StartEvent once the watch is in place, then
 * carries filesystem events and keepalives (every `Keepalive-Ping-Interval` seconds when
 * the client sends that header) until the client cancels or the watch fails.
 */
import type { MessageInitShape } from '@bufbuild/protobuf';
import type { HandlerContext } from '@connectrpc/connect';
import type { WatchDirRequest, WatchDirResponseSchema } from '@wrenn/proto/filesystem';
import type { Logger } from '@wrenn/shared';
import type { UserInfo } from '../core/users.js';
import { EventChannel } from './event-buffer.js';
import type { WatcherRegistry } from './watcher-registry.js';

export const KEEPALIVE_HEADER = 'Keepalive-Ping-Interval';

type Response = MessageInitShape<typeof WatchDirResponseSchema>;

/** Keepalive period from the request header (seconds), or undefined when absent or invalid. */
export function keepaliveMs(headers: Headers): number | undefined {
  const seconds = Number(headers.get(KEEPALIVE_HEADER));
  return Number.isFinite(seconds) && seconds > 0 ? seconds * 1000 : undefined;
}

export async function* watchDirStream(
  root: string,
  req: WatchDirRequest,
  user: UserInfo,
  hctx: HandlerContext,
  watchers: WatcherRegistry,
  logger: Logger,
): AsyncGenerator<Response> {
  const channel = new EventChannel<NonNullable<Response['event']>>();
  const watcher = await watchers.openStreaming(
    root,
    { recursive: req.recursive, includeEntry: req.includeEntry, allowNetworkMounts: req.allowNetworkMounts, user },
    {
      event: (value) => channel.push({ case: 'filesystem', value }),
      failed: (err) => channel.end(err),
    },
  );
  const onAbort = (): void => channel.end();
  hctx.signal.addEventListener('abort', onAbort, { once: true });
  if (hctx.signal.aborted) channel.end();
  const periodMs = keepaliveMs(hctx.requestHeader);
  const keepalive = periodMs ? setInterval(() => channel.push({ case: 'keepalive', value: {} }), periodMs) : undefined;
  logger.debug({ path: root, recursive: req.recursive }, 'watch started');
  try {
    yield { event: { case: 'start', value: {} } };
    for await (const event of channel) yield { event };
  } finally {
    clearInterval(keepalive);
    hctx.signal.removeEventListener('abort', onAbort);
    watchers.release(watcher);
    const dropped = channel.takeDropped();
    if (dropped > 0) logger.warn({ path: root, dropped }, 'watch events dropped: the client read too slowly');
    logger.debug({ path: root }, 'watch ended');
  }
}
