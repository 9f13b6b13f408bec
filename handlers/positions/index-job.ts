import * as z from 'zod';
import { defineHandler, envInt, parseEnv, type MetricFactory } from '../../runtime/index.js';
import { keys } from '../../schemas/keys.js';

const configSchema = z.object({
  /** How often P3.3's hashes are looked for: the bound on how late a new P3.3 symbol is seen. */
  POSITION_INDEX_REFRESH_SEC: envInt(5, 1),
});
type PositionIndexConfig = z.infer<typeof configSchema>;

/** Keys per SCAN step: a step costs Redis about this much work, whatever the keyspace. */
const SCAN_COUNT = 1000;

function metrics(m: MetricFactory) {
  return {
    refreshes: m.counter({
      name: 'quantum_position_index_refreshes_total',
      help: 'Refreshes of the index of P3.3 position hashes (by SCAN)',
    }),
    symbols: m.gauge({ name: 'quantum_position_index_p33_symbols', help: 'Symbols with a P3.3 position hash at the last refresh' }),
  };
}

/**
 * Finds the Position Ledger's (P3.3) hashes quantum:position:snapshot:{symbol} with SCAN (never
 * KEYS) and replaces our index of them, quantum:gates:positions:p33_symbols, in one commit. The
 * position book reads that index, so no gate ever scans the keyspace on its hot path; the price is
 * that a symbol P3.3 starts writing is seen after at most POSITION_INDEX_REFRESH_SEC (the governor
 * reads the plan's own symbol directly, so it never waits for this).
 */
export const positionIndex = defineHandler({
  name: 'position-index',
  description: 'Index of the Position Ledger’s (P3.3) hashes by SCAN, every POSITION_INDEX_REFRESH_SEC',
  trigger: { kind: 'schedule', queue: 'position-index', everyMs: (c: PositionIndexConfig) => c.POSITION_INDEX_REFRESH_SEC * 1000 },
  input: z.looseObject({}),
  config: (env) => parseEnv(configSchema, env),
  metrics,
  // An index that cannot be refreshed keeps its previous contents until the next tick.
  failure: {
    maxAttempts: 3,
    backoffMs: 50,
    policy: 'fail-open',
    fallback: (_tick, failure, ctx) => ctx.log.warn({ attempts: failure.attempts }, 'P3.3 index not refreshed'),
  },
  async handle(_tick, ctx) {
    const prefix = keys.p33PositionSnapshot('');
    const symbols = new Set<string>();
    let cursor = '0';
    do {
      const [next, found] = await ctx.redis.scan(cursor, 'MATCH', keys.p33PositionSnapshotPattern, 'COUNT', SCAN_COUNT);
      for (const key of found) symbols.add(key.slice(prefix.length));
      cursor = next;
    } while (cursor !== '0');
    ctx.deleteKey(keys.p33PositionIndex);
    for (const symbol of symbols) ctx.addToSet(keys.p33PositionIndex, symbol);
    ctx.metrics.refreshes.inc();
    ctx.metrics.symbols.set(symbols.size);
  },
});
