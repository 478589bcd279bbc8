/**
 * The filesystem.Filesystem Connect service: every path is resolved for the acting user
 * (`~` and relative paths from their home) and every operation is permission-checked for
 * them. Thrown WrennErrors become Connect errors in the server's error interceptor.
 */
import type { ConnectRouter, HandlerContext } from '@connectrpc/connect';
import { Filesystem } from '@wrenn/proto/filesystem';
import { actingUser } from '../core/auth.js';
import type { EnvdContext } from '../core/context.js';
import { resolveUserPath } from '../core/paths.js';
import type { UserInfo } from '../core/users.js';
import { listDir } from './list-dir.js';
import { makeDir, movePathFor, removePath, statPath } from './operations.js';
import { watchDirStream } from './watch-stream.js';
import type { WatcherRegistry } from './watcher-registry.js';

export function registerFilesystemService(router: ConnectRouter, ctx: EnvdContext, watchers: WatcherRegistry): void {
  const userOf = (hctx: HandlerContext): UserInfo =>
    actingUser(ctx.users, ctx.state, { authorization: hctx.requestHeader.get('authorization') });
  const logger = ctx.logger.child({ service: 'filesystem' });

  router.service(Filesystem, {
    async stat(req, hctx) {
      const user = userOf(hctx);
      return { entry: await statPath(resolveUserPath(req.path, user), user, ctx) };
    },

    async makeDir(req, hctx) {
      const user = userOf(hctx);
      return { entry: await makeDir(resolveUserPath(req.path, user), user, ctx) };
    },

    async move(req, hctx) {
      const user = userOf(hctx);
      const entry = await movePathFor(resolveUserPath(req.source, user), resolveUserPath(req.destination, user), user, ctx);
      return { entry };
    },

    async listDir(req, hctx) {
      const user = userOf(hctx);
      return { entries: await listDir(resolveUserPath(req.path, user), req.depth, user, ctx) };
    },

    async remove(req, hctx) {
      const user = userOf(hctx);
      await removePath(resolveUserPath(req.path, user), user);
      return {};
    },

    watchDir(req, hctx) {
      const user = userOf(hctx);
      return watchDirStream(resolveUserPath(req.path, user), req, user, hctx, watchers, logger);
    },

    async createWatcher(req, hctx) {
      const user = userOf(hctx);
      const watcherId = await watchers.create(resolveUserPath(req.path, user), {
        recursive: req.recursive,
        includeEntry: req.includeEntry,
        allowNetworkMounts: req.allowNetworkMounts,
        user,
      });
      return { watcherId };
    },

    async getWatcherEvents(req) {
      return { events: watchers.takeEvents(req.watcherId) };
    },

    async removeWatcher(req) {
      watchers.remove(req.watcherId);
      return {};
    },
  });
}
