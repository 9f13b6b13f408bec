import { LEGS, type ListingMark } from './fold.js';
import * as z from 'zod';
import { defineHandler, type MetricFactory, type RedisReader } from '../../runtime/contract/index.js';
import { envInt, parseEnv } from '../../schemas/env.js';
import { keys } from '../../schemas/keys.js';
import { P33_KEY_WATCH, p33HashReads, p33SaysFlat, positionBookEnvShape, readWatched } from './book.js';
import { listingMarkOf, P33_REFRESHED_FIELD, P33_UNREADABLE_FIELD } from './memory.js';
import { refusedAs } from './read-commands.js';

const configSchema = z.object({
  /**
   * How often the index is refreshed: the bound on how late a symbol P3.3 is configured with is
   * listed, which the book reads only while its P3.3 key watch is not live.
   */
  POSITION_INDEX_REFRESH_SEC: envInt(5, 1),
  POSITION_P33_PREFIXES: positionBookEnvShape.POSITION_P33_PREFIXES,
  /** The book's bound on a figure stamped ahead: a flat hash stamped further ahead is no sound flat figure (counted held). */
  PRICE_MAX_SKEW_SEC: positionBookEnvShape.PRICE_MAX_SKEW_SEC,
  /**
   * The symbols P3.3 is configured with, comma-separated: set it to P3.3's P33_ALLOWLIST (else its
   * APPLY_ALLOWLIST; position_state_brain/main.py Config.ALLOWLIST). Checked every refresh.
   */
  POSITION_P33_SYMBOLS: z.string().default(''),
  /**
   * Where P3.3 reads its universe (upstream newest: P33_UNIVERSE_KEY_ACTIVE, P33_UNIVERSE_KEY_LAST_OK;
   * JSON with a "symbols" list). Checked every refresh.
   */
  POSITION_P33_UNIVERSE_KEYS: z.string().default(`${keys.universeActive},${keys.universeLastOk}`),
  /**
   * SCAN steps (COUNT 1000 keys each) per prefix per refresh, for hashes of symbols in no list
   * above (an on-demand snapshot, a changed universe): the sweep goes round the keyspace once
   * every keyspace / (1000 × steps) refreshes. 0 turns the sweep off.
   */
  POSITION_INDEX_SCAN_STEPS: envInt(10, 0),
});
type PositionIndexConfig = z.infer<typeof configSchema>;

/** Symbols whose hashes a refresh reads in one round trip: a few ms of Redis and of this process each. */
const SYMBOLS_A_ROUND_TRIP = 50;

/** Keys per SCAN step: a step costs Redis about this much work, whatever the keyspace. */
const SCAN_COUNT = 1000;

const list = (text: string) =>
  text
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');

function metrics(m: MetricFactory) {
  return {
    refreshes: m.counter({
      name: 'quantum_position_index_refreshes_total',
      help: 'Refreshes of the index of P3.3 position hashes',
    }),
    symbols: m.gauge({ name: 'quantum_position_index_p33_symbols', help: 'Symbols with a P3.3 position hash at the last refresh' }),
    held: m.gauge({
      name: 'quantum_position_index_p33_held',
      help: 'Symbols whose P3.3 hashes were other than a sound flat figure at the last refresh',
    }),
    watchEnded: m.counter({
      name: 'quantum_position_index_watch_ended_total',
      help: "The governor's watched symbols (a permitted open) no longer watched: a refresh begun after the reservation expired found the fill's P3.3 hash or our view's row",
    }),
    viewPruned: m.counter({
      name: 'quantum_position_index_view_pruned_total',
      help: 'Symbols taken out of our view index because their row had expired (a balance-tracker position aged out)',
    }),
    candidates: m.gauge({
      name: 'quantum_position_index_candidates',
      help: 'Symbols checked at the last refresh: P3.3 allowlist, universe, previous index and the sweep',
    }),
    sweeps: m.counter({ name: 'quantum_position_index_sweeps_total', help: 'Full rounds of the bounded SCAN sweep, per prefix' }),
  };
}

/** The symbols of P3.3's universe keys (JSON {"symbols": [...]}); an absent or unreadable key adds none. */
async function universeSymbols(redis: RedisReader, universeKeys: readonly string[]): Promise<string[]> {
  // A key of another type adds none; any other failure is no answer (a lost connection is no empty universe): the refresh fails.
  const values = await Promise.all(universeKeys.map((key) => redis.get(key).catch(refusedAs(null))));
  return values.flatMap((value) => {
    if (value === null) return [];
    try {
      const parsed: unknown = JSON.parse(value);
      const symbols = typeof parsed === 'object' && parsed !== null ? (parsed as { symbols?: unknown }).symbols : undefined;
      return Array.isArray(symbols) ? symbols.filter((s): s is string => typeof s === 'string' && s !== '') : [];
    } catch {
      return [];
    }
  });
}

/** The score a watched symbol is given to be trimmed in the same commit (a watch's score is its reservation's expiry, never below 0). */
const WATCH_ENDED = -1;

/**
 * Keeps the position book's indexes, so no gate scans the keyspace on its hot path, in one commit
 * each refresh:
 * - P3.3's index, quantum:gates:positions:p33_symbols: the Position Ledger's (P3.3) hashes under every
 *   prefix of POSITION_P33_PREFIXES (and, for a symbol P3.3 is configured with or already indexed, a
 *   key of another type there: P3.3's word on it unreadable). Without scanning the whole keyspace each
 *   time (6–7 s and most of a Redis core at 5 M keys): it checks, with one HMGET per symbol and prefix
 *   (while the P3.3 key watch is live, only of the hashes written since it last read them), the
 *   symbols P3.3 itself is configured with (its env allowlist and its universe keys) and those already
 *   indexed (a symbol leaves when its hashes are gone); a bounded SCAN sweep
 *   (POSITION_INDEX_SCAN_STEPS × 1000 keys per prefix per refresh, its cursor kept in Redis) finds
 *   the rest in the background. The book reads it only while the P3.3 key watch is not live (then
 *   every listed hash), and the key watch reads it once at each (re)subscribe; a decision never
 *   waits for a refresh (book.ts p33KeyWatch).
 * - The governor's watched symbols, quantum:gates:positions:p33_watch (its permitted opens, read
 *   directly by every book read): one stops being watched when a refresh that began after its
 *   reservation expired finds its P3.3 hash (held: its fill, listed here in the same commit and seen
 *   by the key watch; flat: the open never filled) or our view's row. Never by the clock alone.
 * - Our view's index, quantum:gates:positions:active_symbols: a symbol whose row has expired (a
 *   balance-tracker position aged out) leaves it, guarded on the row still being absent at commit.
 * - The book's mark on P3.3's listing (fold.ts foldListingMark, in quantum:gates:positions:held): a
 *   refresh begun after a decision last found P3.3's index unreadable stamps when it began, and the
 *   decisions, reading the stamp, count P3.3's listing whole again.
 * P3.3's index Redis refuses fails the refresh, and our view's is left as it is (the book reports
 * either, and no index of their symbols can be rebuilt from what this job reads). Members are removed
 * one by one, never the key replaced: a symbol a governor permit adds while this refresh runs stays.
 */
export const positionIndex = defineHandler({
  name: 'position-index',
  description:
    'Indexes of the position book: P3.3’s hashes (its allowlist and universe, plus a bounded SCAN), the governor’s watched opens, and our view’s live rows, every POSITION_INDEX_REFRESH_SEC',
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
    const { redis, config } = ctx;
    const prefixes = config.POSITION_P33_PREFIXES;
    const now = ctx.now();
    const [universe, indexed, view, expiredWatches, swept, mark] = await Promise.all([
      universeSymbols(redis, list(config.POSITION_P33_UNIVERSE_KEYS)),
      redis.smembers(keys.p33PositionIndex),
      // Our view's index read as the book reads it: one Redis refuses is the book's to report, not this job's to prune.
      redis.smembers(keys.activePositions).catch(refusedAs<string[]>([])),
      // Watched opens whose reservation expired before this refresh began.
      redis.zrangebyscore(keys.p33Watch, 0, `(${now}`),
      Promise.all(prefixes.map((prefix) => sweep(redis, prefix, config.POSITION_INDEX_SCAN_STEPS))),
      // The book's mark on P3.3's listing (fold.ts foldListingMark); a memory Redis refuses bears none the job can clear.
      redis
        .hmget(keys.positionsHeld, P33_UNREADABLE_FIELD, P33_REFRESHED_FIELD)
        .then(([unreadable, refreshed]) => listingMarkOf([P33_UNREADABLE_FIELD, unreadable ?? '', P33_REFRESHED_FIELD, refreshed ?? '']))
        .catch(refusedAs<ListingMark>({})),
    ]);
    const candidates = [...new Set([...list(config.POSITION_P33_SYMBOLS), ...universe, ...indexed, ...swept.flatMap((s) => s.symbols)])];
    // Each candidate's hashes as the book reads them (one HMGET per prefix: on Redis Cluster a
    // symbol's two layouts live in different slots), SYMBOLS_A_ROUND_TRIP symbols at a time so a large
    // universe never holds the decisions sharing this process and Redis for long (a universe of
    // 2,000 read at once held them up to 100-190 ms every refresh: bench `universe`). A reply with a
    // field is P3.3's hash (P3.3 always writes ts_epoch). A key of another type (WRONGTYPE) is
    // P3.3's word made unreadable for a symbol P3.3 is configured with or was indexed (listed: the
    // book makes it a position of unknown size), and no position for one only the sweep met
    // (others write under these prefixes too).
    const p33s = new Set([...list(config.POSITION_P33_SYMBOLS), ...universe, ...indexed]);
    const found: string[] = [];
    const notFlat: string[] = [];
    // Through the key watch's kept replies when it is live, after a barrier of this refresh's own:
    // a hash unwritten since a read is not read again. A flat universe of 2,000 symbols under both
    // prefixes was 4,000 HMGETs a refresh (800 a second at the default 5 s), now the ones written since.
    await redis.keysToRead?.(P33_KEY_WATCH);
    for (let i = 0; i < candidates.length; i += SYMBOLS_A_ROUND_TRIP) {
      const chunk = candidates.slice(i, i + SYMBOLS_A_ROUND_TRIP);
      const flat = await readWatched(
        redis,
        chunk.flatMap((symbol) => p33HashReads(symbol, config)),
      );
      chunk.forEach((symbol, k) => {
        const replies = flat.slice(k * prefixes.length, (k + 1) * prefixes.length);
        const hash = replies.some((reply) => Array.isArray(reply) && reply.some((field) => field !== null));
        if (!hash && !(p33s.has(symbol) && replies.some((reply) => reply instanceof Error))) return;
        found.push(symbol);
        // Judged by the book's own rule at this clock.
        if (!p33SaysFlat(symbol, replies, { config, now })) notFlat.push(symbol);
      });
    }
    // A symbol's view is its row and its legs' rows (position-snapshot): listed while any is there.
    const viewKeys = (symbol: string) => [keys.position(symbol), ...LEGS.map((leg) => keys.positionLeg(symbol, leg))];
    const viewRows = await Promise.all(view.map((symbol) => redis.exists(...viewKeys(symbol))));
    const listed = new Set(found);
    // A watched open ends once its fill is in the book without the watch (its P3.3 hash indexed in this
    // commit and seen by the key watch, or our view's row), or P3.3 says it flat after its reservation
    // expired (an open that never filled). A permit of the symbol again meanwhile loses its watch to
    // this commit, harmlessly: the symbol is then read through P3.3's index or our view.
    const inView = new Set(view.filter((_, i) => viewRows[i] !== 0));
    const ended = expiredWatches.filter((symbol) => listed.has(symbol) || inView.has(symbol));
    for (const symbol of ended) ctx.add(keys.p33Watch, symbol, { to: 'sorted-set', score: WATCH_ENDED });
    if (ended.length > 0) ctx.remove(keys.p33Watch, { from: 'sorted-set', scoredAtMost: WATCH_ENDED });
    ctx.metrics.watchEnded.inc(ended.length);
    swept.forEach((s, i) => {
      if (s.cursor === undefined) return;
      ctx.put(keys.p33IndexScanCursor(prefixes[i]!), s.cursor);
      if (s.cursor === '0') ctx.metrics.sweeps.inc();
    });
    for (const symbol of indexed) if (!listed.has(symbol)) ctx.remove(keys.p33PositionIndex, { from: 'set', member: symbol });
    const before = new Set(indexed);
    for (const symbol of listed) if (!before.has(symbol)) ctx.add(keys.p33PositionIndex, symbol, { to: 'set' });
    // Our view's rows that expired (position-snapshot writes a row and its member in one commit).
    view.forEach((symbol, i) => {
      if (viewRows[i] !== 0) return;
      for (const key of viewKeys(symbol)) ctx.require(key, { is: 'absent' });
      ctx.remove(keys.activePositions, { from: 'set', member: symbol });
      ctx.metrics.viewPruned.inc();
    });
    // P3.3's listing marked of unknown completeness since a decision found the index unreadable: this
    // refresh, begun after that sighting and committed (it fails while the index is of another type),
    // listed every symbol P3.3 is configured with. Stamped with when it began: a decision that finds
    // the index unreadable again later marks it later, so the stamp clears no sighting after it. The
    // decisions clear the mark on reading the stamp.
    if (mark.unreadableAtMs !== undefined && mark.unreadableAtMs < now && (mark.refreshedAtMs ?? 0) <= mark.unreadableAtMs)
      ctx.put(keys.positionsHeld, { [P33_REFRESHED_FIELD]: String(now) });
    ctx.metrics.refreshes.inc();
    ctx.metrics.symbols.set(found.length);
    ctx.metrics.held.set(notFlat.length);
    ctx.metrics.candidates.set(candidates.length);
  },
});

/** Up to `steps` SCAN steps from the prefix's stored cursor; stops at the end of a round. */
async function sweep(redis: RedisReader, prefix: string, steps: number): Promise<{ symbols: string[]; cursor: string | undefined }> {
  if (steps === 0) return { symbols: [], cursor: undefined };
  let cursor = (await redis.get(keys.p33IndexScanCursor(prefix))) ?? '0';
  const symbols: string[] = [];
  for (let step = 0; step < steps; step++) {
    const [next, found] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', SCAN_COUNT);
    for (const key of found) symbols.push(key.slice(prefix.length));
    cursor = next;
    if (cursor === '0') break;
  }
  return { symbols, cursor };
}
