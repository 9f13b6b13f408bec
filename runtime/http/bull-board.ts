// bull-board and its dependencies (its Fastify adapter, @fastify/static, ejs, the UI's file
// lists...) are CommonJS and take ~70 ms to load: the dashboard is off unless credentials are
// set, so they are imported only when a board is actually mounted, not at every start.

/** The three bull-board entry points the dashboard uses. */
export interface BullBoardModules {
  readonly createBullBoard: typeof import('@bull-board/api').createBullBoard;
  readonly BullMQAdapter: typeof import('@bull-board/api/bullMQAdapter').BullMQAdapter;
  readonly FastifyAdapter: typeof import('@bull-board/fastify').FastifyAdapter;
}

let loading: Promise<BullBoardModules> | undefined;

/** Loads bull-board once per process; every board (writable and read-only) shares the modules. */
export function loadBullBoard(): Promise<BullBoardModules> {
  loading ??= Promise.all([import('@bull-board/api'), import('@bull-board/api/bullMQAdapter'), import('@bull-board/fastify')]).then(
    ([api, adapter, fastify]) => ({
      createBullBoard: api.createBullBoard,
      BullMQAdapter: adapter.BullMQAdapter,
      FastifyAdapter: fastify.FastifyAdapter,
    }),
  );
  return loading;
}
