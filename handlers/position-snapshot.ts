import * as z from 'zod';
import { defineHandler, type MetricFactory } from '../runtime/contract/index.js';
import { parseEnv } from '../schemas/env.js';
import { keys, streams } from '../schemas/keys.js';
import { positionSnapshotSchema, snapshotAges, snapshotNotional } from '../schemas/position-snapshot.js';
import { positionBookEnvShape } from './positions/book.js';
import { heldKey, legOf, LEGS } from './positions/fold.js';

const configSchema = z.object({
  POSITION_SNAPSHOT_STREAM: z.string().min(1).default(streams.positionSnapshot),
  POSITION_SNAPSHOT_GROUP: z.string().min(1).default('position_snapshot'),
  POSITION_MAX_AGE_SEC: positionBookEnvShape.POSITION_MAX_AGE_SEC,
});
type PositionSnapshotConfig = z.infer<typeof configSchema>;

function metrics(m: MetricFactory) {
  return {
    applied: m.counter({ name: 'quantum_position_snapshots_applied_total', help: 'Position snapshots materialised into hashes' }),
    stale: m.counter({
      name: 'quantum_position_snapshots_stale_total',
      help: 'Snapshots skipped because a newer one for the symbol was already applied',
    }),
    active: m.gauge({
      name: 'quantum_position_snapshot_last_notional_usd',
      help: 'Latest position notional per symbol',
      labelNames: ['symbol'],
    }),
  };
}

/**
 * Materialises quantum:stream:position.snapshot (the seeds' format and the balance tracker's, see
 * schemas/position-snapshot.ts) into one hash per symbol plus an index of active
 * symbols, all under our own prefix, so gates read the latest position of every symbol without
 * scanning the stream. The position book (handlers/positions/book.ts) folds in what this has not
 * applied yet and merges the Position Ledger's (P3.3) hashes, which this never writes.
 */
export const positionSnapshot = defineHandler({
  name: 'position-snapshot',
  description: 'Latest position per symbol from the snapshot stream: quantum:gates:position:{symbol} and its active-symbol index',
  trigger: {
    kind: 'stream',
    stream: (c: PositionSnapshotConfig) => c.POSITION_SNAPSHOT_STREAM,
    group: (c: PositionSnapshotConfig) => c.POSITION_SNAPSHOT_GROUP,
  },
  input: positionSnapshotSchema,
  config: (env) => parseEnv(configSchema, env),
  metrics,
  failure: { maxAttempts: 3, backoffMs: 25, policy: 'dead-letter' },
  // Replicas may finish batches out of order: newest wins, so an older snapshot never overwrites
  // a newer one (the commit stores the applied stream id with the snapshot).
  idempotency: {
    keys: (snapshot, meta) => [{ key: keys.positionAppliedId(snapshot.symbol), id: meta.id }],
    onDuplicate: (_snapshot, ctx) => ctx.metrics.stale.inc(),
  },
  // Snapshots of a small book in both producers' formats; its reads (the newest-wins ids) find none.
  async handle(snapshot, ctx) {
    // Our own view, never P3.3's quantum:position:snapshot:{symbol} (the Position Ledger's).
    const key = keys.position(snapshot.symbol);
    const notional = snapshotNotional(snapshot);
    // A repeating producer's figure lives POSITION_MAX_AGE_SEC from when it was produced (a
    // backlog applied late must not revive a position that has stopped being reported).
    const agesInMs = snapshotAges(snapshot) ? ctx.config.POSITION_MAX_AGE_SEC * 1000 - (ctx.now() - ctx.meta.producedAt) : undefined;
    const qty = snapshot.qty ?? snapshot.position_qty;
    // A snapshot that names its side (the balance tracker's: one entry per leg in hedge mode) is also
    // its leg's row, so the other leg's entry never replaces it; one without a side is the symbol's.
    const leg = legOf(snapshot.side, undefined);
    const legKey = leg === undefined ? undefined : keys.positionLeg(snapshot.symbol, leg);
    if (agesInMs !== undefined && agesInMs > 0 && notional === 0 && qty !== undefined && qty !== 0) {
      // An open position the balance tracker could not price (mark_price "0.0": Binance gave no
      // entry price). No notional to state, so the heat gate and the budget see no figure, as
      // before; the governor counts it as a slot, priced by the other producers' marks (book.ts).
      const fields: Record<string, string> = {
        symbol: snapshot.symbol,
        qty: String(qty),
        mark_price: String(snapshot.mark_price ?? 0),
        updated_at: String(ctx.meta.producedAt),
        source_id: ctx.meta.id,
      };
      if (typeof snapshot.side === 'string') fields.side = snapshot.side;
      ctx.put(key, fields, { replace: true, ttlSec: Math.ceil(agesInMs / 1000) });
      if (legKey !== undefined) ctx.put(legKey, fields, { replace: true, ttlSec: Math.ceil(agesInMs / 1000) });
      // A snapshot of no side is the word on the whole symbol: no leg's row outlives it (the book
      // reads the legs' rows only beside a symbol's row that names a side: book.ts bookReads).
      else for (const l of LEGS) ctx.remove(keys.positionLeg(snapshot.symbol, l));
      ctx.add(keys.activePositions, snapshot.symbol, { to: 'set' });
    } else if (legKey !== undefined && agesInMs !== undefined && agesInMs <= 0) {
      // A leg's snapshot applied too late to count: that leg's row goes (and the symbol's, which it
      // replaced); the other leg's row stands, and the position index prunes the symbol once none does.
      ctx.remove(key);
      ctx.remove(legKey);
    } else if (notional === 0 || (agesInMs !== undefined && agesInMs <= 0)) {
      ctx.remove(key);
      for (const l of leg === undefined ? LEGS : [leg]) ctx.remove(keys.positionLeg(snapshot.symbol, l));
      if (leg === undefined) {
        ctx.remove(keys.activePositions, { from: 'set', member: snapshot.symbol });
        // The seeds' close (a 0, no side) is its producer's report that the symbol is flat: the
        // book's memory of its legs goes with it (an empty field is no memory, memory.ts).
        if (notional === 0) ctx.put(keys.positionsHeld, Object.fromEntries(LEGS.map((l) => [heldKey(snapshot.symbol, l), ''])));
      }
    } else {
      const sigma = snapshot.sigma ?? snapshot.volatility;
      const fields: Record<string, string> = {
        symbol: snapshot.symbol,
        position_notional_usd: String(notional),
        updated_at: String(ctx.meta.producedAt),
        source_id: ctx.meta.id,
      };
      if (sigma !== undefined) fields.sigma = String(sigma);
      if (qty !== undefined) fields.qty = String(qty);
      if (snapshot.mark_price !== undefined) fields.mark_price = String(snapshot.mark_price);
      if (typeof snapshot.side === 'string') fields.side = snapshot.side;
      // The balance tracker never sends a zero snapshot on close: its position leaves the view when
      // it is POSITION_MAX_AGE_SEC old. A seed-format snapshot stands until its producer's 0.
      const lives = agesInMs === undefined ? { replace: true } : { replace: true, ttlSec: Math.ceil(agesInMs / 1000) };
      ctx.put(key, fields, lives);
      if (legKey !== undefined) ctx.put(legKey, fields, lives);
      // As above: the whole symbol's word replaces its legs'.
      else for (const l of LEGS) ctx.remove(keys.positionLeg(snapshot.symbol, l));
      ctx.add(keys.activePositions, snapshot.symbol, { to: 'set' });
    }
    ctx.metrics.applied.inc();
    ctx.metrics.active.set({ symbol: snapshot.symbol }, notional);
  },
});
