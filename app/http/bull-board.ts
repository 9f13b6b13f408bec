// bull-board and its dependencies (its Fastify adapter, @fastify/static, ejs, the UI's file
// lists...) are CommonJS and take ~70 ms to load: the dashboard is off unless credentials are
// set, so they are imported only when a board is actually mounted, not at every start.

/** The three bull-board entry points the dashboard uses. */
export interface BullBoardModules {
  readonly createBullBoard: typeof import('@bull-board/api').createBullBoard;
  readonly BullMQAdapter: typeof import('@bull-board/api/bullMQAdapter').BullMQAdapter;
  readonly FastifyAdapter: typeof import('@bull-board/fastify').FastifyAdapter;
}

/** Loads bull-board; every board (writable and read-only) shares the modules, loaded once by Node's module cache. */
export async function loadBullBoard(): Promise<BullBoardModules> {
  const [api, adapter, fastify] = await Promise.all([
    import('@bull-board/api'),
    import('@bull-board/api/bullMQAdapter'),
    import('@bull-board/fastify'),
  ]);
  return {
    createBullBoard: commonJsExport<BullBoardModules['createBullBoard']>(api, 'createBullBoard'),
    BullMQAdapter: commonJsExport<BullBoardModules['BullMQAdapter']>(adapter, 'BullMQAdapter'),
    FastifyAdapter: commonJsExport<BullBoardModules['FastifyAdapter']>(fastify, 'FastifyAdapter'),
  };
}

/**
 * A named export of a CommonJS package, whoever imported it: Node finds the names by scanning the
 * source and also gives module.exports as `default`; a chunk of the bundle (scripts/bundle.mjs)
 * declares `default` only; tsx gives the names only (the packages set __esModule).
 */
function commonJsExport<T>(namespace: object, name: string): T {
  const named = (namespace as Record<string, unknown>)[name];
  const viaDefault = ((namespace as { default?: Record<string, unknown> }).default ?? {})[name];
  const found = named ?? viaDefault;
  if (found === undefined) throw new Error(`bull-board: the package exports no ${name}`);
  return found as T;
}
