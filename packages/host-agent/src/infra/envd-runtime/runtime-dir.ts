/**
 * The envd runtime directory, bind-mounted read-only at /.wrenn in every capsule: the
 * host's node binary with its own dynamic loader and libraries, the bundled envd, its
 * native addons and a static tini. With the loader invoked explicitly, node runs on any
 * rootfs — Debian, Alpine, busybox, or one with no libc at all (docs/decisions.md#e8).
 *
 * The directory is content-addressed (node version + envd bundle hash) so a new envd
 * gets a new directory while running capsules keep the one they were started with.
 */
import { createHash } from 'node:crypto';
import { createReadStream, promises as fsp, existsSync } from 'node:fs';
import { basename, join } from 'node:path';
import { WrennError } from '@wrenn/shared';
import { run } from '../exec.js';

/** Where the runtime directory appears inside a capsule. */
export const ENVD_MOUNT_POINT = '/.wrenn';
export const ENVD_PORT = 49983;

export interface EnvdRuntimeSources {
  /** The node binary to ship (default: the one running this agent). */
  nodeBinary: string;
  /** Directory holding envd.cjs and build/Release/*.node (packages/envd/dist). */
  envdDist: string;
  /** A statically linked tini. */
  tiniStatic: string;
}

export interface EnvdRuntime {
  /** Host path of the runtime directory (bind source). */
  readonly dir: string;
  readonly id: string;
}

/**
 * Streamed: the node binary is ~100 MB, and reading it whole left that much in
 * ArrayBuffers that an idle agent's garbage collector had no reason to give back.
 */
async function fileHash(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** Shared libraries `binary` needs, as absolute host paths (ldd), loader included. */
export async function sharedLibraries(binary: string): Promise<string[]> {
  const { stdout } = await run('ldd', [binary], { allowFailure: true });
  const libs = new Set<string>();
  for (const line of stdout.split('\n')) {
    const arrow = /=>\s+(\/\S+)/.exec(line);
    const bare = /^\s*(\/\S+)\s+\(/.exec(line);
    const path = arrow?.[1] ?? bare?.[1];
    if (path) libs.add(path);
  }
  return [...libs];
}

/** The loader's file name as the runtime dir ships it (x86_64 today). */
export function loaderName(libs: string[]): string {
  const loader = libs.find((l) => /\/ld-linux[^/]*\.so\.\d+$/.test(l) || /\/ld-musl[^/]*\.so\.\d+$/.test(l));
  if (!loader) throw new WrennError('failed_precondition', 'cannot find the dynamic loader of the node binary (is it static?)');
  return basename(loader);
}

/**
 * Builds (once) the runtime directory under `<dataDir>/envd-runtime/<id>` and returns it.
 * Built in a temp dir and renamed into place, so a crash leaves no half directory.
 */
export async function ensureEnvdRuntime(dataDir: string, src: EnvdRuntimeSources): Promise<EnvdRuntime> {
  const envdBundle = join(src.envdDist, 'envd.cjs');
  if (!existsSync(envdBundle)) {
    throw new WrennError('failed_precondition', `envd bundle not found at ${envdBundle}: run \`npm run build\` first`);
  }
  const addons = (await fsp.readdir(join(src.envdDist, 'build', 'Release')).catch(() => [] as string[])).filter((f) =>
    f.endsWith('.node'),
  );
  const hash = createHash('sha256');
  hash.update(await fileHash(src.nodeBinary));
  hash.update(await fileHash(envdBundle));
  for (const a of addons.sort()) hash.update(await fileHash(join(src.envdDist, 'build', 'Release', a)));
  hash.update(await fileHash(src.tiniStatic));
  const id = hash.digest('hex').slice(0, 16);
  const root = join(dataDir, 'envd-runtime');
  const dir = join(root, id);
  if (existsSync(join(dir, '.complete'))) return { dir, id };

  await fsp.mkdir(root, { recursive: true, mode: 0o755 });
  const tmp = await fsp.mkdtemp(join(root, `.tmp-${id}-`));
  try {
    await fsp.chmod(tmp, 0o755);
    for (const sub of ['bin', 'lib', 'envd/build/Release']) await fsp.mkdir(join(tmp, sub), { recursive: true, mode: 0o755 });
    await fsp.copyFile(src.nodeBinary, join(tmp, 'bin', 'node'));
    await fsp.copyFile(src.tiniStatic, join(tmp, 'bin', 'tini'));
    await fsp.copyFile(envdBundle, join(tmp, 'envd', 'envd.cjs'));
    const libs = new Set(await sharedLibraries(src.nodeBinary));
    for (const a of addons) {
      const addon = join(src.envdDist, 'build', 'Release', a);
      await fsp.copyFile(addon, join(tmp, 'envd', 'build', 'Release', a));
      for (const l of await sharedLibraries(addon)) libs.add(l);
    }
    for (const lib of libs) {
      // Copy the file the link points at, under the name the binary asks for.
      await fsp.copyFile(await fsp.realpath(lib), join(tmp, 'lib', basename(lib)));
    }
    await fsp.writeFile(join(tmp, 'loader'), loaderName([...libs]));
    for (const f of ['bin/node', 'bin/tini']) await fsp.chmod(join(tmp, f), 0o755);
    for (const l of await fsp.readdir(join(tmp, 'lib'))) await fsp.chmod(join(tmp, 'lib', l), 0o755);
    await fsp.writeFile(join(tmp, '.complete'), new Date().toISOString());
    await fsp.rename(tmp, dir).catch(async (err: NodeJS.ErrnoException) => {
      // Another agent process won the race: theirs is as good as ours.
      if (err.code !== 'ENOTEMPTY' && err.code !== 'EEXIST') throw err;
      await fsp.rm(tmp, { recursive: true, force: true });
    });
  } catch (err) {
    await fsp.rm(tmp, { recursive: true, force: true });
    throw err;
  }
  return { dir, id };
}

/**
 * argv of a capsule's PID 1: tini (reaps zombies, forwards signals to the group) with envd
 * as its child, run through the shipped loader so no library comes from the rootfs.
 */
export async function envdCommand(runtime: EnvdRuntime, port = ENVD_PORT, mountPoint = ENVD_MOUNT_POINT): Promise<string[]> {
  const loader = (await fsp.readFile(join(runtime.dir, 'loader'), 'utf8')).trim();
  return [
    `${mountPoint}/bin/tini`,
    '-s',
    '-g',
    '--',
    `${mountPoint}/lib/${loader}`,
    '--library-path',
    `${mountPoint}/lib`,
    `${mountPoint}/bin/node`,
    // Small heap settings keep an idle envd's footprint low; it never needs a big heap.
    '--max-semi-space-size=1',
    `${mountPoint}/envd/envd.cjs`,
    '--port',
    String(port),
  ];
}

/** Environment of envd inside the capsule (CRIU cannot checkpoint io_uring). */
export function envdEnvironment(extra: Record<string, string> = {}): string[] {
  return Object.entries({
    UV_USE_IO_URING: '0',
    PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
    ...extra,
  }).map(([k, v]) => `${k}=${v}`);
}
