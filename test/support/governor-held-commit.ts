import { allHandlers } from '../../handlers/index.js';
import { createGovernor } from '../../handlers/governor/index.js';
import { defineHandler } from '../../runtime/contract/handler.js';
import { TransactionCommitter, type Committer } from '../../runtime/engine/commit.js';
import { Delivery } from '../../runtime/engine/delivery.js';
import type { Runtime } from '../../runtime/host/runtime.js';
import { keys, streams } from '../../schemas/keys.js';
import { P33_SEED_TTL_SEC, p33SeedHash } from './book-producers.js';
import type { TestRedis } from './redis-server.js';
import { pendingCount, produce, readStream, startRuntime, waitFor } from './runtime.js';

/**
 * The governor deciding a batch while the batch before it commits (batch.decidesAhead), with the
 * first batch's commit held until the second batch is decided, so the second batch's reads surely
 * predate the first commit: test/integration/governor-decides-ahead.test.ts and its chaos test.
 */
const MARK = '100';

/** A $150 position as P3.3 writes it at the seed era (test/support/book-producers.ts cites upstream). */
async function p33Position(redis: TestRedis, symbol: string): Promise<void> {
  const key = keys.p33PositionSnapshot(symbol);
  await redis.client.hset(key, p33SeedHash(1.5, Number(MARK), Date.now() / 1000));
  await redis.client.expire(key, P33_SEED_TTL_SEC);
}

/**
 * An open of $150 on apply.plan: the fields upstream's publish_plan writes (microservices/apply_layer/main.py
 * at 8f5055c52, lines 673-690: plan_id, symbol, action, kill_score, decision, price, timestamp),
 * with the side and qty an open carries.
 */
const open = (i: number) => ({
  plan_id: `ahead-${i}`,
  symbol: `NEW${i}USDT`,
  action: 'OPEN_LONG',
  kill_score: '0.1',
  decision: 'EXECUTE',
  side: 'BUY',
  qty: '1.5',
  price: MARK,
  timestamp: String(Date.now() / 1000),
});

/** A promise and its resolve (Node 20 has no Promise.withResolvers). */
function signal(): { promise: Promise<void>; resolve: () => void } {
  let resolve = () => undefined as void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

const isOurPlan = (item: unknown) => item instanceof Delivery && (item.meta.raw.plan_id ?? '').startsWith('ahead-');

/** The runtime a test started and the release of its held commit, for the test's afterEach. */
export interface HeldCommitSession {
  runtime?: Runtime;
  release: () => void;
}

/**
 * Book 5 × $150, total cap $2,000, position cap lifted, batches of 5, 12 opens of $150 on new
 * symbols: 750 + 8 × 150 = 1,950 < 2,000, so nine permits. The first commit is held until ten
 * plans (two batches) are decided; `whileHeld` runs then, and the commit goes out once it returns.
 */
export async function decideWithFirstCommitHeld(
  redis: TestRedis,
  session: HeldCommitSession,
  whileHeld: () => Promise<void> = async () => undefined,
) {
  for (let i = 0; i < 5; i++) await p33Position(redis, `BOOK${i}USDT`);
  for (let i = 0; i < 12; i++) await redis.client.hset(keys.marketState(`NEW${i}USDT`), 'mark_price', MARK);

  const governor = createGovernor();
  let decided = 0;
  const aheadOf: boolean[] = [];
  const tenDecided = signal();
  const { loadState } = governor.batch ?? {};
  if (loadState === undefined) throw new Error('the governor loads a batch state');
  const watched = defineHandler({
    ...governor,
    batch: {
      ...governor.batch,
      loadState: (reader, config, now, ahead) => {
        aheadOf.push(ahead !== undefined);
        return loadState(reader, config, now, ahead);
      },
    },
    async handle(plan, ctx) {
      await governor.handle(plan, ctx);
      if (++decided === 10) tenDecided.resolve();
    },
  });
  const held = signal();
  session.release = () => held.resolve();
  let holding = true;
  const committerFactory = (connection: ConstructorParameters<typeof TransactionCommitter>[0]): Committer => {
    const inner = new TransactionCommitter(connection, 0);
    return {
      async commit(source, items, order) {
        if (holding && items.some(isOurPlan)) {
          holding = false;
          await tenDecided.promise;
          await whileHeld();
          await held.promise;
        }
        return inner.commit(source, items, order);
      },
    };
  };
  // The whole book indexed first; then the burst waits as one backlog, read in batches of five.
  const indexer = await startRuntime(redis.url, { HANDLERS: 'position-index', POSITION_INDEX_REFRESH_SEC: '1' });
  await waitFor(async () => (await redis.client.scard(keys.p33PositionIndex)) === 5, { what: 'P3.3 index holds the book' });
  await indexer.stop();
  await produce(
    redis.client,
    streams.applyPlan,
    Array.from({ length: 12 }, (_, i) => open(i)),
  );
  const runtime = await startRuntime(
    redis.url,
    {
      HANDLERS: 'governor',
      GOV_MAX_OPEN_POSITIONS: '100',
      GOV_MAX_NOTIONAL_PER_TRADE_USDT: '200',
      GOV_MAX_TOTAL_NOTIONAL_USDT: '2000',
      BATCH_SIZE: '5',
    },
    [...allHandlers.filter((h) => h.name !== 'governor'), watched],
    { committerFactory },
  );
  session.runtime = runtime;
  await tenDecided.promise;
  session.release();
  const events = await waitFor(
    async () => {
      const all = (await readStream(redis.client, streams.governorEvents)).filter((e) => e.event === 'permit' || e.event === 'block');
      return all.length >= 12 ? all : undefined;
    },
    { what: 'every open decided', timeoutMs: 30_000 },
  );
  await waitFor(async () => (await pendingCount(redis.client, streams.applyPlan, 'governor')) === 0, { what: 'all acknowledged' });
  const body = (await runtime.server.inject({ method: 'GET', url: '/metrics' })).body;
  const conflicts = body
    .split('\n')
    .filter((line) => line.startsWith('quantum_gates_commit_conflicts_total{') && line.includes('handler="governor"'))
    .reduce((sum, line) => sum + Number(line.slice(line.lastIndexOf(' ') + 1)), 0);
  const decision = (i: number) => events.filter((e) => e.plan_id === `ahead-${i}`).map((e) => `${e.event} ${e.reason}`);
  return { events, conflicts, aheadOf, decision };
}
