// Bundles the product's entry points to plain JavaScript (ESM) with esbuild, so nothing
// compiles TypeScript at run time:
//   packages/cli/dist/bin/wrenn.mjs                        the `wrenn` command
//   packages/host-agent/dist/bin/wrenn-agent.mjs           the host agent
//   packages/control-plane/dist/bin/wrenn-control-plane.mjs the control plane
// The workspace's own packages (@wrenn/*, TypeScript sources) are bundled in; npm
// dependencies stay external and load from the repository's node_modules, where their
// native addons, WebAssembly and asset files are (a global `wrenn` is a link to this
// checkout), except the pure-JavaScript ones a CLI command needs at start, bundled so that
// starting `wrenn` reads one file instead of a few hundred. Code that finds files next to its source (import.meta.dirname) keeps finding
// them: each such use is rewritten to the source file's own directory, computed at run time
// from the bundle's place in the repository.
import { build } from 'esbuild';
import { readFile, rm } from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';

const ROOT = resolve(import.meta.dirname, '..');

const TARGETS = [
  { pkg: 'cli', entry: 'src/main.ts', name: 'wrenn', bundled: ['commander', 'ws', 'cli-progress'] },
  { pkg: 'host-agent', entry: 'src/start/main.ts', name: 'wrenn-agent' },
  { pkg: 'control-plane', entry: 'src/start/main.ts', name: 'wrenn-control-plane' },
];

/** ws's optional native helpers: absent, ws falls back to JavaScript (a caught require). */
const OPTIONAL = new Set(['bufferutil', 'utf-8-validate']);

/** Bare imports stay imports, except the workspace's packages and `bundled` (with their own dependencies). */
function externalDeps(bundled) {
  return {
    name: 'external-npm-deps',
    setup(b) {
      b.onResolve({ filter: /^[^./]/ }, (args) => {
        if (args.path.startsWith('@wrenn/') || args.path.startsWith('node:')) return undefined;
        if (OPTIONAL.has(args.path)) return { path: args.path, external: true };
        const name = args.path.startsWith('@') ? args.path.split('/').slice(0, 2).join('/') : args.path.split('/')[0];
        // An import from inside node_modules comes from a bundled package: bundle it too.
        if (bundled.includes(name) || args.importer.includes('/node_modules/')) return undefined;
        return { path: args.path, external: true };
      });
    },
  };
}

/** import.meta.dirname in a workspace source → that source's directory, at run time. */
const sourceDirname = {
  name: 'source-dirname',
  setup(b) {
    b.onLoad({ filter: /\/packages\/[^/]+\/src\/.*\.ts$/ }, async (args) => {
      const text = await readFile(args.path, 'utf8');
      if (!text.includes('import.meta.dirname')) return undefined;
      const rel = JSON.stringify(relative(ROOT, dirname(args.path)));
      return { contents: text.replaceAll('import.meta.dirname', `__wrennPath.join(__wrennRoot, ${rel})`), loader: 'ts' };
    });
  },
};

for (const t of TARGETS) {
  const outdir = join(ROOT, 'packages', t.pkg, 'dist/bin');
  await rm(outdir, { recursive: true, force: true });
  await build({
    entryPoints: { [t.name]: join(ROOT, 'packages', t.pkg, t.entry) },
    outdir,
    // Chunks beside the entry (same depth below the root: __wrennRoot holds for them too);
    // a dynamic import (`wrenn up`'s server code) becomes a chunk loaded only when used.
    chunkNames: `${t.name}-[name]-[hash]`,
    outExtension: { '.js': '.mjs' },
    splitting: true,
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'esm',
    sourcemap: 'linked',
    legalComments: 'none',
    logLevel: 'warning',
    plugins: [externalDeps(t.bundled ?? []), sourceDirname],
    // require() for the CommonJS packages bundled in; the repository root for sourceDirname.
    banner: {
      js: [
        "import { createRequire as __wrennCreateRequire } from 'node:module';",
        'const require = __wrennCreateRequire(import.meta.url);',
        "import * as __wrennPath from 'node:path';",
        "const __wrennRoot = __wrennPath.resolve(import.meta.dirname, '../../../..');",
      ].join(' '),
    },
  });
}
console.log(`bundled: ${TARGETS.map((t) => `packages/${t.pkg}/dist/bin/${t.name}.mjs`).join(', ')}`);
