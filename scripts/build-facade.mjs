// Bundles the course-compatible facade into one CommonJS file (and a node process's entry into one ES
// module, below), distribution/index.js, so that
// `require('distribution/distribution')` works where ES modules cannot load (Jest 27) and without the
// `exports` map (the folder's own package.json names the file). Runs after `tsc` (it bundles dist/).
// Native and optional native packages stay external: they are CommonJS already and cannot be bundled.
import { build } from 'esbuild';
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const outfile = join(root, 'distribution', 'index.js');

// The entry is CommonJS itself, so `module.exports` is the bootstrap function, as course code expects.
const entry = `
const facade = require('./dist/src/facade/index.js');
facade.setChildEntry(__filename);
module.exports = facade.bootstrap;
if (require.main === module) facade.main(process.argv);
`;

// ws tries these optional native speed-ups inside try/catch; bundled as modules that throw when
// required, ws falls back to its JavaScript code and the bundle requires nothing outside Node.
function absentOptionalModules(names) {
  const filter = new RegExp(`^(${names.join('|')})$`);
  return {
    name: 'absent-optional-modules',
    setup(b) {
      b.onResolve({ filter }, (args) => ({ path: args.path, namespace: 'absent' }));
      b.onLoad({ filter: /.*/, namespace: 'absent' }, (args) => ({
        contents: `throw new Error(${JSON.stringify(`${args.path} is not bundled`)});`, loader: 'js',
      }));
    },
  };
}

await build({
  stdin: { contents: entry, resolveDir: root, sourcefile: 'facade-entry.cjs', loader: 'js' },
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  outfile,
  external: ['lmdb', 'msgpackr-extract'],
  plugins: [absentOptionalModules(['bufferutil', 'utf-8-validate'])],
  // import.meta does not exist in CommonJS: compute the module's URL from __filename instead.
  define: { 'import.meta.url': 'importMetaUrl' },
  banner: { js: "const importMetaUrl = require('node:url').pathToFileURL(__filename).href;" },
  logLevel: 'warning',
  legalComments: 'none',
});

// A node process (launcher.ts) loads this one file instead of ~60 ES modules one by one: about 80 ms
// less per spawn. Used only for nodes without extra program modules: such a module imports the
// registry and the serializer from dist/ itself, and must find the very same module instances there.
await build({
  entryPoints: [join(root, 'dist', 'src', 'runtime', 'node-main.js')],
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  outfile: join(root, 'dist', 'src', 'runtime', 'node-main.bundle.mjs'),
  external: ['lmdb', 'msgpackr-extract'],
  plugins: [absentOptionalModules(['bufferutil', 'utf-8-validate'])],
  // CommonJS dependencies (debug, ws) call require(); an ES module has none of its own.
  banner: { js: "import { createRequire as bundleCreateRequire } from 'node:module'; const require = bundleCreateRequire(import.meta.url);" },
  logLevel: 'warning',
  legalComments: 'none',
});

writeFileSync(join(root, 'distribution', 'index.d.ts'), [
  "import type { bootstrap } from '../dist/src/facade/index.js';",
  'declare const distribution: typeof bootstrap;',
  'export = distribution;',
  '',
].join('\n'));
