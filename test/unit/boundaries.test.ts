import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '../..');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return path.endsWith('.ts') ? [path] : [];
  });
}

const importsOf = (file: string) => [...readFileSync(file, 'utf8').matchAll(/^\s*import\s[^;]*?from\s+'([^']+)'/gms)].map((m) => m[1]!);

describe('module boundaries', () => {
  // Handlers get Redis, metrics and time through ctx; importing a client would bypass the
  // runtime's atomic commit and make them untestable with a fake ctx.
  it.each(sourceFiles(resolve(root, 'handlers')).map((f) => [relative(root, f), f]))(
    '%s imports no infrastructure package',
    (_name, file) => {
      const forbidden = importsOf(file).filter((spec) => /^(ioredis|bullmq|fastify|@fastify\/|prom-client|pino|@bull-board\/)/.test(spec));
      expect(forbidden).toEqual([]);
    },
  );

  // The contract is runtime/contract/index.ts: a gate that needs more of the runtime widens it there.
  it.each(sourceFiles(resolve(root, 'handlers')).map((f) => [relative(root, f), f]))(
    '%s imports the runtime through runtime/contract/index.js only, and nothing of app/ or cli/',
    (_name, file) => {
      const outside = importsOf(file).filter((spec) => /(^|\/)runtime\/(?!contract\/index\.js$)|(^|\/)(app|cli)\//.test(spec));
      expect(outside).toEqual([]);
    },
  );

  // A gate's folder is its own: what two gates share (the position book, portfolio heat) lives in
  // handlers/positions/, so changing one gate's rules cannot silently change another's.
  const sharedFolders = new Set(['positions']);
  it.each(
    sourceFiles(resolve(root, 'handlers'))
      .filter((f) => relative(resolve(root, 'handlers'), f).includes('/'))
      .map((f) => [relative(root, f), f]),
  )("%s imports no other gate's folder", (_name, file) => {
    const own = relative(resolve(root, 'handlers'), file).split('/')[0]!;
    const otherGates = importsOf(file)
      .map((spec) => /^\.\.\/([^./][^/]*)\//.exec(spec)?.[1])
      .filter((folder): folder is string => folder !== undefined && folder !== own && !sharedFolders.has(folder));
    expect(otherGates).toEqual([]);
  });

  // The runtime knows no gate: a gate's keys, routes and status come to it through the declaration.
  it.each(sourceFiles(resolve(root, 'runtime')).map((f) => [relative(root, f), f]))(
    '%s imports no gate and nothing of app/ or cli/',
    (_name, file) => {
      expect(importsOf(file).filter((spec) => /(^|\/)(handlers|app|cli)\//.test(spec))).toEqual([]);
    },
  );

  // Nor any gate's keys, streams or records (its status section reads them): of schemas/ and
  // domain/, only the generic formats: stream fields, settings (env), numbers, and the status
  // document's shapes (schemas/status/: gates declare their sections in them, the runtime serves
  // them, app/ and cli/ draw them, so they are a wire format, not the runtime's own).
  it.each(sourceFiles(resolve(root, 'runtime')).map((f) => [relative(root, f), f]))(
    "%s imports no gate's keys or records",
    (_name, file) => {
      const specific = importsOf(file).filter(
        (spec) => /(^|\/)(schemas|domain)\//.test(spec) && !/(^|\/)(schemas\/(fields|env|status\/[\w-]+)|domain\/number)\.js$/.test(spec),
      );
      expect(specific).toEqual([]);
    },
  );

  // The runtime's rooms: the contract leans on nothing of how it is kept, and the engine runs
  // deliveries whatever their source and whoever hosts it.
  it.each(sourceFiles(resolve(root, 'runtime/contract')).map((f) => [relative(root, f), f]))(
    '%s imports nothing of the engine, the sources or the host',
    (_name, file) => {
      expect(importsOf(file).filter((spec) => /^\.\.\/(engine|sources|host)\//.test(spec))).toEqual([]);
    },
  );

  it.each(sourceFiles(resolve(root, 'runtime/engine')).map((f) => [relative(root, f), f]))(
    '%s imports nothing of the sources or the host',
    (_name, file) => {
      expect(importsOf(file).filter((spec) => /^\.\.\/(sources|host)\//.test(spec))).toEqual([]);
    },
  );

  // The application starts and reads the runtime through its host, runtime/host/index.ts.
  it.each([...sourceFiles(resolve(root, 'app')), ...sourceFiles(resolve(root, 'cli'))].map((f) => [relative(root, f), f]))(
    '%s imports the runtime through runtime/host/index.js only',
    (_name, file) => {
      expect(importsOf(file).filter((spec) => /(^|\/)runtime\/(?!host\/index\.js$)/.test(spec))).toEqual([]);
    },
  );

  // Shared domain rules are pure: the gates, the status page, the CLI and the HTTP API import them.
  it.each(sourceFiles(resolve(root, 'domain')).map((f) => [relative(root, f), f]))(
    '%s imports nothing but other domain rules',
    (_name, file) => {
      expect(importsOf(file).filter((spec) => !spec.startsWith('./'))).toEqual([]);
    },
  );

  it.each(sourceFiles(resolve(root, 'schemas')).map((f) => [relative(root, f), f]))(
    '%s depends on zod, schemas and domain rules only',
    (_name, file) => {
      expect(importsOf(file).filter((spec) => spec !== 'zod' && !spec.startsWith('./') && !spec.startsWith('../domain/'))).toEqual([]);
    },
  );
});
