// Bundles the server and the command-line tool into dist/main.js and dist/cli.js.
//
// Node.js 20 loads an ES module file by file, and kysely and typebox alone are over 600
// files: importing the compiled service took about 460 ms, against about 250 ms for one
// bundle. The first delivery after a restart waits for that import.
//
// Packages stay outside the bundle when they load native code (better-sqlite3, argon2) or
// read files next to their own sources at run time (pino's worker threads, the static
// file servers of the console and the API docs). Types are checked by tsc before this runs.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const outdir = path.join(root, 'dist');

// Files of an earlier build laid out module by module would otherwise stay beside the bundles.
fs.rmSync(outdir, { recursive: true, force: true });

await build({
  absWorkingDir: root,
  entryPoints: { main: 'src/main.ts', cli: 'src/cli.ts' },
  outdir,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20.19',
  // Stack traces map back to src/ when Node.js runs with --enable-source-maps.
  sourcemap: 'linked',
  external: [
    'better-sqlite3',
    'argon2',
    'pg-native',
    'pino',
    'thread-stream',
    '@fastify/static',
    '@fastify/swagger-ui',
  ],
  // Bundled CommonJS packages call require(), which an ES module does not have.
  banner: {
    js: "import { createRequire as createRequireForBundle } from 'node:module'; const require = createRequireForBundle(import.meta.url);",
  },
  logLevel: 'warning',
});
