// `npm run build`'s second step, after tsc has type-checked the sources: esbuild bundles the two
// entry points into dist/app/main.js (what the systemd units run) and dist/cli/main.js (what
// bin/quantum-gates.js imports), each with its lazily loaded parts in dist/chunks/. Node then
// compiles a few large files instead of resolving, reading and compiling some 700 modules one by
// one, which was most of the start-up (docs/performance.md, "a CLI command").
//
// The two are bundled apart, the CLI's `start` importing dist/app/main.js as it is: bundled
// together, every module either reaches went into chunks both load, so `kill status` compiled the
// gates' server (fastify, ajv, pino, bullmq) to read one key. With package.json's
// "sideEffects": false, what a command does not use of runtime/host/index.js is left out.
//
// Every bundled module lands one folder below dist/ (app/, cli/ or chunks/): app/build-info.ts finds
// dist/build-info.json, app/http-plugins.ts finds dist/status-page/, runtime/engine/lua.ts
// finds dist/lua/, handlers/lua.ts finds dist/handlers/<gate>/lua/ and cli/dlq-store.ts finds
// dist/cli/lua/ from there.
import { build } from 'esbuild';
import { cpSync, existsSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';

/**
 * Left in node_modules: msgpackr (bullmq's), because it loads its native decoder, msgpackr-extract,
 * installed inside its own node_modules; bundled, it would not find it and would fall back to its
 * slower JavaScript. Everything else is bundled, having been checked for files it reads at run time:
 * - bullmq: its Lua scripts are JavaScript modules since v5; only sandboxed (file) processors,
 *   which the gates do not use, read files of bullmq's own. ioredis is bundled with it.
 * - bull-board (a chunk of its own, loaded only when the dashboard is on): it finds its UI's files
 *   with an eval'd require.resolve('@bull-board/ui/package.json'), which resolves through the
 *   require below to node_modules/@bull-board/ui. Bundled, its BullMQ adapter shares the gates'
 *   bullmq instead of loading a second copy from node_modules (~120 ms of a start with the board).
 */
const external = ['msgpackr'];

// Bundled CommonJS packages call require() (Node's built-in modules, msgpackr, bull-board's eval);
// ES modules have none.
const requireShim =
  "import { createRequire as createRequireForBundle } from 'node:module';\nconst require = createRequireForBundle(import.meta.url);";

// dist/, or another folder inside the checkout (test/integration/build.test.ts builds its own copy
// while other tests run the CLI from dist/); node_modules must be above it.
const out = process.argv[2] ?? 'dist';

/** `quantum-gates start` runs the gates' own bundle, dist/app/main.js, rather than a copy of it in the CLI's. */
const appMainOutside = {
  name: 'app-main-outside',
  setup(bundle) {
    bundle.onResolve({ filter: /\/app\/main\.js$/ }, () => ({ path: '../app/main.js', external: true }));
  },
};

rmSync(out, { recursive: true, force: true });
for (const [entry, plugins, source] of [
  ['app/main', []],
  ['cli/main', [appMainOutside]],
  // The gates' declarations and the runtime's side of a rehearsal, for `quantum-gates rehearse`
  // run by another release (cli/rehearse/release-entry.ts).
  ['handlers/index', [], 'cli/rehearse/release-entry.ts'],
])
  await build({
    entryPoints: { [entry]: source ?? `${entry}.ts` },
    outdir: out,
    bundle: true,
    splitting: true,
    chunkNames: 'chunks/[name]-[hash]',
    format: 'esm',
    platform: 'node',
    target: 'node20',
    external,
    plugins,
    banner: { js: requireShim },
    // Stack traces name lines of dist/; with NODE_OPTIONS=--enable-source-maps, of the sources.
    sourcemap: 'linked',
    logLevel: 'warning',
  });
asciiOnly(out);
cpSync('app/status-page', `${out}/status-page`, { recursive: true });
// The runtime's Lua scripts, read at start from ../lua/ of a bundled module (runtime/engine/lua.ts).
cpSync('runtime/lua', `${out}/lua`, { recursive: true });
// The gates' Lua scripts, read at start from ../handlers/<gate>/lua/ of a bundled module (handlers/lua.ts).
for (const gate of readdirSync('handlers')) {
  if (existsSync(`handlers/${gate}/lua`)) cpSync(`handlers/${gate}/lua`, `${out}/handlers/${gate}/lua`, { recursive: true });
}
// The CLI's Lua script (dlq replay), read at load from ../cli/lua/ of a bundled module (cli/dlq-store.ts).
cpSync('cli/lua', `${out}/cli/lua`, { recursive: true });
console.log(`${out}/: app/main.js, cli/main.js, handlers/index.js, chunks/, status-page/, lua/, handlers/*/lua/, cli/lua/`);

/**
 * V8 keeps a script's source text in memory for as long as it runs, one byte a character when
 * every character is Latin-1 and two bytes otherwise: a single "×" or "→" in one comment doubled
 * the two large chunks' text to ~7 MiB of every process's heap. esbuild already writes strings,
 * identifiers and regular expressions in ASCII (its default charset), so what remains outside it
 * is in comments; each such character becomes "?" (two for one outside the BMP, so the columns the
 * source maps count, in UTF-16 units, stay where they were).
 */
function asciiOnly(dir) {
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile() || !entry.name.endsWith('.js')) continue;
    const path = `${entry.parentPath}/${entry.name}`;
    const text = readFileSync(path, 'utf8');
    // eslint-disable-next-line no-control-regex -- the range is the point: everything outside ASCII
    const ascii = text.replace(/[^\x00-\x7f]/gu, (c) => '?'.repeat(c.length));
    if (ascii !== text) writeFileSync(path, ascii);
  }
}
