// Builds src/ into dist/ so that `mqiot` runs plain JavaScript instead of compiling TypeScript at every
// start (tsx alone costs ~30 MB of RSS). Run by `npm ci` (the `prepare` script) and `npm run build`;
// bin/mqiot.js uses dist/ only while it is newer than every file under src/, else it falls back to tsx.
//
// One esbuild bundle split per command: src/cli/main.ts loads each command with a dynamic import, so
// each command's code is its own chunk and `mqiot broker` loads no platform, HTTP or SQL code. The
// small pure-JavaScript packages the broker runs on are bundled in (one module instead of dozens of
// CommonJS files each kept with its wrapper and source: ~9 MB of RSS at start); everything else stays
// an ordinary import from node_modules (native addons, and large packages whose files read their own
// directory at run time).
import { cpSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { build } from 'esbuild';

/** Packages compiled into the bundle; every other bare import stays external. */
export const BUNDLED = new Set(['mqtt-packet', 'pino', 'ws', 'yaml']);

/** The package name of a bare import ('@scope/name/sub' → '@scope/name'). */
export function packageOf(specifier: string): string {
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]!;
}

/** Builds into `out` (dist/ by default; it must be inside `root`, where node_modules is found). */
export async function buildDist(root: string, out = join(root, 'dist')): Promise<void> {
  rmSync(out, { recursive: true, force: true });
  await build({
    absWorkingDir: root,
    entryPoints: ['src/cli/main.ts'],
    outdir: out,
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    logLevel: 'warning',
    // bundled CommonJS packages call require(); an ES module has none of its own
    banner: {
      js: "import { createRequire as __mqiotRequire } from 'node:module'; const require = __mqiotRequire(import.meta.url);",
    },
    plugins: [
      {
        name: 'external-packages',
        setup(b) {
          b.onResolve({ filter: /^[^./]/ }, (args) => {
            if (args.path.startsWith('node:')) return { path: args.path, external: true };
            // a bundled package's own imports (its dependencies) are bundled with it
            if (args.importer.includes('/node_modules/')) return undefined;
            return BUNDLED.has(packageOf(args.path)) ? undefined : { path: args.path, external: true };
          });
          // optional native speed-ups ws tries inside try/catch
          b.onResolve({ filter: /^(bufferutil|utf-8-validate)$/ }, (args) => ({
            path: args.path,
            external: true,
          }));
        },
      },
    ],
  });
  // Files the code reads next to itself (new URL('./static/', import.meta.url)): the chunks sit at the
  // top of dist/, so the folders go there.
  cpSync(join(root, 'src/web/static'), join(out, 'static'), { recursive: true });
  cpSync(join(root, 'src/contracts/builtin'), join(out, 'builtin'), { recursive: true });
  cpSync(join(root, 'src/contracts/models/builtin-models'), join(out, 'builtin-models'), { recursive: true });
  mkdirSync(out, { recursive: true });
  // written last: bin/mqiot.js trusts dist/ only while this is newer than every source file
  writeFileSync(join(out, 'built'), `${new Date().toISOString()}\n`);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  await buildDist(process.cwd());
}
