/**
 * The `busybox` template: a static busybox and its applet links, a root and a `user`
 * account, the usual empty mount points. Built in well under a second; used by tests and
 * to check that envd (which brings its own node and libraries) runs on a rootfs with no
 * libc at all.
 */
import { chmod, chown, copyFile, mkdir, symlink, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { WrennError } from '@wrenn/shared';
import { run } from '../exec.js';
import type { TemplateRecipe } from './builder.js';

export const BUSYBOX_RECIPE_VERSION = 1;
const USER_UID = 1000;

export function busyboxRecipe(busyboxPath = '/usr/bin/busybox'): TemplateRecipe {
  return {
    source: { kind: 'busybox', recipeVersion: BUSYBOX_RECIPE_VERSION },
    phases: [{ message: 'creating the busybox tree', weight: 1 }],
    async build(ctx) {
      ctx.phase(0);
      const root = ctx.rootfsDir;
      await mkdir(root, { mode: 0o755 });
      for (const dir of ['bin', 'sbin', 'usr/bin', 'usr/sbin', 'etc', 'proc', 'sys', 'dev', 'run', 'var/tmp', 'home']) {
        await mkdir(join(root, dir), { recursive: true, mode: 0o755 });
      }
      await mkdir(join(root, 'tmp'));
      await chmod(join(root, 'tmp'), 0o1777);
      await chmod(join(root, 'var/tmp'), 0o1777);
      await mkdir(join(root, 'root'), { mode: 0o700 });
      await mkdir(join(root, 'home/user'), { mode: 0o755 });
      await chown(join(root, 'home/user'), USER_UID, USER_UID);

      await copyFile(busyboxPath, join(root, 'bin/busybox'));
      await chmod(join(root, 'bin/busybox'), 0o755);
      const { stdout } = await run(busyboxPath, ['--list-full'], { signal: ctx.signal });
      const applets = stdout.split('\n').map((l) => l.trim()).filter((l) => l && l !== 'bin/busybox' && l !== 'linuxrc');
      if (applets.length === 0) throw new WrennError('failed_precondition', `${busyboxPath} --list-full listed no applets: is it busybox?`);
      for (const applet of applets) {
        if (applet.startsWith('/') || applet.includes('..')) continue;
        await mkdir(join(root, dirname(applet)), { recursive: true, mode: 0o755 });
        await symlink('/bin/busybox', join(root, applet)).catch((err: NodeJS.ErrnoException) => {
          if (err.code !== 'EEXIST') throw err;
        });
      }

      await writeFile(
        join(root, 'etc/passwd'),
        `root:x:0:0:root:/root:/bin/sh\nuser:x:${USER_UID}:${USER_UID}:user:/home/user:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n`,
        { mode: 0o644 },
      );
      await writeFile(join(root, 'etc/group'), `root:x:0:\nuser:x:${USER_UID}:\nnogroup:x:65534:\n`, { mode: 0o644 });
      await writeFile(join(root, 'etc/hosts'), '127.0.0.1\tlocalhost\n::1\tlocalhost\n', { mode: 0o644 });
      await writeFile(join(root, 'etc/resolv.conf'), '', { mode: 0o644 });
      ctx.logger.debug({ applets: applets.length }, 'busybox tree created');
      return { defaultUser: 'user', defaultWorkdir: '/home/user', defaultEnv: {} };
    },
  };
}
