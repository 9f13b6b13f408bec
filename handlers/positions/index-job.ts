import * as z from 'zod';
import { defineHandler, type MetricFactory, type RedisReader } from '../../runtime/contract/index.js';
import { envInt, parseEnv } from '../../schemas/env.js';
import { keys } from '../../schemas/keys.js';
import { P33_HELD_CURRENT, p33HashReads, p33SaysFlat, positionBookEnvShape } from './book.js';
import { refusedAs, refusedKey, sendReadsSettled } from './read-commands.js';

const configSchema = z.object({
  /** How often the index is refreshed: the bound on how late a symbol P3.3 is configured with is seen. */
  POSITION_INDEX_REFRESH_SEC: envInt(5, 1),
  POSITION_P33_PREFIXES: positionBookEnvShape.POSITION_P33_PREFIXES,
  /** The book's bound on a figure stamped ahead: a flat hash stamped further ahead is no sound flat figure (stays held). */
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
      help: 'Symbols the position book reads P3.3 for at the last refresh: a hash other than a sound flat figure, or watched',
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

/**
 * How long a refresh's held index stands without the next, in refreshes: past it the book reads
 * every P3.3 hash the index lists (slow, never short of a position) until the job refreshes again.
 */
const HELD_STANDS_REFRESHES = 3;

/** The held index's members, or, when Redis refuses it for its type, none and the key to be replaced (it is wholly this job's). */
async function heldListing(read: Promise<string[]>): Promise<{ members: string[]; replace: boolean }> {
  try {
    return { members: await read, replace: false };
  } catch (error) {
    if (!refusedKey(error)) throw error;
    return { members: [], replace: true };
  }
}

/**
 * Keeps the position book's indexes, so no gate scans the keyspace or reads what cannot count on
 * its hot path, in one commit each refresh:
 * - P3.3's index, quantum:gates:positions:p33_symbols: the Position Ledger's (P3.3) hashes under every
 *   prefix of POSITION_P33_PREFIXES (and, for a symbol P3.3 is configured with or already indexed, a
 *   key of another type there: P3.3's word on it unreadable). Without scanning the whole keyspace each time (6–7 s and most of
 *   a Redis core at 5 M keys): it checks, with one TYPE per symbol and prefix (a hash, or it is not
 *   P3.3's), the symbols P3.3 itself is configured with (its env allowlist and its universe keys) and
 *   those already indexed (a symbol leaves when its hashes are gone); a bounded SCAN sweep
 *   (POSITION_INDEX_SCAN_STEPS × 1000 keys per prefix per refresh, its cursor kept in Redis) finds
 *   the rest in the background.
 * - The held index, quantum:gates:positions:p33_held, which the book reads: of those, the symbols whose
 *   hashes say anything but a sound flat figure at this refresh's clock (book.ts p33SaysFlat: held,
 *   unpriced, stamped ahead, no number, unreadable), so a universe of flat symbols costs no read of
 *   the book; and the symbols the governor watches (quantum:gates:positions:p33_watch: its
 *   permitted opens, until their reservation expires), hash or not. Its member P33_HELD_CURRENT says
 *   until when it stands (HELD_STANDS_REFRESHES refreshes): a job that stopped leaves the book
 *   reading every hash again, never short of one. A symbol P3.3 turns from flat to held outside the
 *   governor is read from the next refresh; the governor reads the plan's own symbol directly.
 * - Our view's index, quantum:gates:positions:active_symbols: a symbol whose row has expired (a
 *   balance-tracker position aged out) leaves it, guarded on the row still being absent at commit.
 * A held index Redis refuses for its type is replaced (it is wholly this job's); P3.3's index so refused
 * fails the refresh, and our view's is left as it is (the book reports either, and no index of
 * their symbols can be rebuilt from what this job reads). Members are removed one by one (or, in the
 * held index, by score), never the key replaced: a symbol a governor permit adds while this refresh
 * runs stays listed.
 */
export const positionIndex = defineHandler({
  name: 'position-index',
  description:
    'Indexes of the position book: P3.3’s hashes (its allowlist and universe, plus a bounded SCAN), those not flat, and our view’s live rows, every POSITION_INDEX_REFRESH_SEC',
  trigger: { kind: 'schedule', queue: 'position-index', everyMs: (c: PositionIndexConfig) => c.POSITION_INDEX_REFRESH_SEC * 1000 },
  input: z.looseObject({}),
  config: (env) => parseEnv(configSchema, env),
  metrics,
  // An index that cannot be refreshed keeps its previous contents until the next tick; the held
  // index stops standing after HELD_STANDS_REFRESHES of them.
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
    const [universe, indexed, held, view, watched, swept] = await Promise.all([
      universeSymbols(redis, list(config.POSITION_P33_UNIVERSE_KEYS)),
      redis.smembers(keys.p33PositionIndex),
      heldListing(redis.zrangebyscore(keys.p33HeldIndex, '-inf', '+inf')),
      // Our view's index read as the book reads it: one Redis refuses is the book's to report, not this job's to prune.
      redis.smembers(keys.activePositions).catch(refusedAs<string[]>([])),
      redis.zrangebyscore(keys.p33Watch, `(${now}`, '+inf'),
      Promise.all(prefixes.map((prefix) => sweep(redis, prefix, config.POSITION_INDEX_SCAN_STEPS))),
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
    for (let i = 0; i < candidates.length; i += SYMBOLS_A_ROUND_TRIP) {
      const chunk = candidates.slice(i, i + SYMBOLS_A_ROUND_TRIP);
      const rows = await Promise.all(chunk.map((symbol) => sendReadsSettled(redis, p33HashReads(symbol, config))));
      chunk.forEach((symbol, k) => {
        const replies = rows[k] ?? [];
        const hash = replies.some((reply) => Array.isArray(reply) && reply.some((field) => field !== null));
        if (!hash && !(p33s.has(symbol) && replies.some((reply) => reply instanceof Error))) return;
        found.push(symbol);
        // Judged by the book's own rule at this clock.
        if (!p33SaysFlat(symbol, replies, { config, now })) notFlat.push(symbol);
      });
    }
    const viewRows = await Promise.all(view.map((symbol) => redis.exists(keys.position(symbol))));
    // A permitted open's symbol stays listed, hash or not, until its reservation expires (keys.p33Watch).
    const listed = new Set([...found, ...watched]);
    const heldNow = new Set([...notFlat, ...watched]);
    ctx.remove(keys.p33Watch, { from: 'sorted-set', scoredAtMost: now });
    swept.forEach((s, i) => {
      if (s.cursor === undefined) return;
      ctx.put(keys.p33IndexScanCursor(prefixes[i]!), s.cursor);
      if (s.cursor === '0') ctx.metrics.sweeps.inc();
    });
    for (const symbol of indexed) if (!listed.has(symbol)) ctx.remove(keys.p33PositionIndex, { from: 'set', member: symbol });
    const before = new Set(indexed);
    for (const symbol of listed) if (!before.has(symbol)) ctx.add(keys.p33PositionIndex, symbol, { to: 'set' });
    // The held index: this refresh's symbols scored now, earlier ones not listed again dropped by
    // score (a permit's, scored by its reservation's expiry, stays), and until when it stands.
    const standsMs = HELD_STANDS_REFRESHES * config.POSITION_INDEX_REFRESH_SEC * 1000;
    const ttlSec = 2 * HELD_STANDS_REFRESHES * config.POSITION_INDEX_REFRESH_SEC;
    if (held.replace) ctx.remove(keys.p33HeldIndex);
    ctx.remove(keys.p33HeldIndex, { from: 'sorted-set', scoredAtMost: now - 1 });
    for (const symbol of heldNow) ctx.add(keys.p33HeldIndex, symbol, { to: 'sorted-set', score: now, ttlSec });
    ctx.add(keys.p33HeldIndex, P33_HELD_CURRENT, { to: 'sorted-set', score: now + standsMs, ttlSec });
    // Our view's rows that expired (position-snapshot writes a row and its member in one commit).
    view.forEach((symbol, i) => {
      if (viewRows[i] !== 0) return;
      ctx.require(keys.position(symbol), { is: 'absent' });
      ctx.remove(keys.activePositions, { from: 'set', member: symbol });
      ctx.metrics.viewPruned.inc();
    });
    ctx.metrics.refreshes.inc();
    ctx.metrics.symbols.set(found.length);
    ctx.metrics.held.set(heldNow.size);
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
