// Bundles envd into one CommonJS file (dist/envd.cjs) plus the native addons it loads at
// run time, laid out where their loaders look for them relative to the bundle.
// CommonJS because node-pty loads its addon with a computed require() path.
import { build } from 'esbuild';
import { copyFileSync, mkdirSync, existsSync, rmSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const pkg = join(here, '..');
const out = join(pkg, 'dist');

rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });

const result = await build({
  entryPoints: [join(pkg, 'src/start/main.ts')],
  outfile: join(out, 'envd.cjs'),
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  minify: true,
  sourcemap: 'linked',
  legalComments: 'none',
  logLevel: 'warning',
  // import.meta.url is used by a few ESM dependencies to build a require(); give them one.
  define: { 'import.meta.url': '__envd_import_meta_url' },
  banner: { js: 'const __envd_import_meta_url = require("url").pathToFileURL(__filename).href;' },
  metafile: true,
});

/** Copies a native addon next to the bundle, at the relative path its loader tries. */
function packageDir(name) {
  for (let dir = pkg; ; dir = dirname(dir)) {
    const candidate = join(dir, 'node_modules', name);
    if (existsSync(join(candidate, 'package.json'))) return candidate;
    if (dirname(dir) === dir) return undefined;
  }
}

function copyAddon(fromPackage, relPath, toRelPath) {
  const pkgDir = packageDir(fromPackage);
  if (!pkgDir) throw new Error(`package ${fromPackage} is not installed`);
  const src = join(pkgDir, relPath);
  if (!existsSync(src)) throw new Error(`native addon missing: ${src} (did npm ci run its install script?)`);
  const dst = join(out, toRelPath);
  mkdirSync(dirname(dst), { recursive: true });
  copyFileSync(src, dst);
}

copyAddon('node-pty', 'build/Release/pty.node', 'build/Release/pty.node');
if (packageDir('fs-xattr')) copyAddon('fs-xattr', 'build/Release/xattr.node', 'build/Release/xattr.node');

const size = statSync(join(out, 'envd.cjs')).size;
console.log(`envd bundled: dist/envd.cjs ${(size / 1024).toFixed(0)} KiB, ${Object.keys(result.metafile.inputs).length} inputs`);
