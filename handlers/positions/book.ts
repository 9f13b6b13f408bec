import { epochMs } from '../../domain/epoch.js';
import * as z from 'zod';
import { envInt, type RedisReader } from '../../runtime/index.js';
import { compareStreamIds, fieldsToRecord, parseNumber } from '../../schemas/fields.js';
import { keys, streams } from '../../schemas/keys.js';
import { positionSnapshotSchema } from '../../schemas/position-snapshot.js';

/**
 * The one position book every gate reads (heat gate, governor, budget engine). It merges, per
 * symbol, the most recent of:
 * - our materialised view of quantum:stream:position.snapshot (position-snapshot handler);
 * - the snapshot stream's entries that view has not applied yet, so no decision lags the stream;
 * - the Position Ledger's (P3.3) hashes quantum:position:snapshot:{symbol}, found through the
 *   index the position-index job refreshes by SCAN (a new P3.3 symbol is seen once that index
 *   has been refreshed: within POSITION_INDEX_REFRESH_SEC).
 * All of it in one read-only script (one round trip, one consistent moment); a plain-read
 * fallback where scripts cannot run (Redis Cluster, Redis before 7).
 */

/** The variables every gate hosting the book understands (the position-snapshot handler's names). */
export const positionBookEnvShape = {
  POSITION_SNAPSHOT_STREAM: z.string().min(1).default(streams.positionSnapshot),
  POSITION_SNAPSHOT_GROUP: z.string().min(1).default('position_snapshot'),
  /** At most this many snapshot entries not yet applied are folded in per read (newest first). */
  POSITION_BOOK_MAX_PENDING: envInt(1000, 1),
};

export interface PositionBookConfig {
  readonly POSITION_SNAPSHOT_STREAM: string;
  readonly POSITION_SNAPSHOT_GROUP: string;
  readonly POSITION_BOOK_MAX_PENDING: number;
}

export type PositionOrigin = 'view' | 'stream' | 'p33';

export interface BookPosition {
  readonly symbol: string;
  /** Signed as its source gave it (P3.3: position_amt × mark_price). */
  readonly notionalUsd: number;
  readonly sigma: number | undefined;
  readonly qty: number | undefined;
  readonly markPrice: number | undefined;
  /** Milliseconds since the epoch the figure is from; ranks the sources per symbol. */
  readonly asOfMs: number;
  readonly origin: PositionOrigin;
}

export interface PositionBook {
  /** Open positions (notional ≠ 0), one per symbol, sorted by symbol. */
  readonly positions: readonly BookPosition[];
  /**
   * How unapplied snapshots were found: through the position-snapshot group (pending entries and
   * those after its last-delivered id), or, without that group, the stream's newest entries.
   */
  readonly streamRead: 'group' | 'tail' | 'none';
  /** True when more unapplied entries existed than POSITION_BOOK_MAX_PENDING. */
  readonly truncated: boolean;
  /**
   * Figures present but not plain finite numbers (a position dropped or left without sigma for
   * them), so a gate that must not decide on untrusted data can say so instead of skipping them.
   */
  readonly untrusted: readonly UntrustedFigure[];
}

/** A position figure that is present but not a plain finite number. */
export interface UntrustedFigure {
  readonly symbol: string;
  readonly field: string;
  readonly value: string;
}

/** Notes `raw` as untrusted when it is present but does not parse; returns the number otherwise. */
function figure(
  untrusted: UntrustedFigure[] | undefined,
  symbol: string,
  field: string,
  raw: string | null | undefined,
): number | undefined {
  const value = parseNumber(raw);
  if (value === undefined && raw !== null && raw !== undefined && untrusted !== undefined)
    untrusted.push({ symbol, field, value: raw.slice(0, 40) });
  return value;
}

export interface BookAndEquity {
  readonly book: PositionBook;
  /** equity_usd of quantum:state:portfolio (read in the same script), when asked for. */
  readonly equityRaw: string | undefined;
}

/**
 * KEYS: our active index, the snapshot stream, the P3.3 index, the portfolio state ('' to skip).
 * ARGV: our view prefix, our applied-id prefix, the group, the bound, the P3.3 prefix, the market prefix.
 * Answers {equity, view symbols, view rows, mode, entries, applied ids, P3.3 symbols, P3.3 rows}.
 */
const READ_BOOK = `
local equity = false
if KEYS[4] ~= '' then equity = redis.call('HGET', KEYS[4], 'equity_usd') end
local symbols = redis.call('SMEMBERS', KEYS[1])
local rows = {}
for i, s in ipairs(symbols) do
  rows[i] = redis.call('HMGET', ARGV[1] .. s, 'position_notional_usd', 'sigma', 'qty', 'mark_price', 'updated_at', 'volatility')
end
local mode, start = 'tail', '-'
local groups = redis.pcall('XINFO', 'GROUPS', KEYS[2])
if type(groups) == 'table' and not groups.err then
  for _, g in ipairs(groups) do
    local name, last, pending
    for j = 1, #g, 2 do
      if g[j] == 'name' then name = g[j + 1] elseif g[j] == 'last-delivered-id' then last = g[j + 1] elseif g[j] == 'pending' then pending = g[j + 1] end
    end
    if name == ARGV[3] then
      mode, start = 'group', '(' .. last
      if pending > 0 then start = redis.call('XPENDING', KEYS[2], ARGV[3])[2] end
    end
  end
else
  mode = 'none'
end
local entries = {}
if mode ~= 'none' then entries = redis.call('XREVRANGE', KEYS[2], '+', start, 'COUNT', tonumber(ARGV[4]) + 1) end
local applied, seen = {}, {}
for i, e in ipairs(entries) do
  local f = e[2]
  for j = 1, #f, 2 do
    if f[j] == 'symbol' then
      local s = f[j + 1]
      if seen[s] == nil then seen[s] = redis.call('GET', ARGV[2] .. s) or '' end
      applied[i] = seen[s]
    end
  end
  if applied[i] == nil then applied[i] = '' end
end
local p33 = redis.call('SMEMBERS', KEYS[3])
local p33rows = {}
for i, s in ipairs(p33) do
  local row = redis.call('HMGET', ARGV[5] .. s, 'position_amt', 'mark_price', 'ts_epoch', 'position_notional_usd', 'sigma')
  row[6] = redis.call('HGET', ARGV[6] .. s, 'sigma')
  p33rows[i] = row
end
return {equity, symbols, rows, mode, entries, applied, p33, p33rows}
`;

type Row = (string | null)[];
type Entry = [id: string, fields: string[]];
type Reply = [string | null, string[], Row[], 'group' | 'tail' | 'none', Entry[], string[], string[], Row[]];

/** The prefix a key function puts before the symbol. */
const prefixOf = (keyOf: (symbol: string) => string) => keyOf('');

/** Reads the book (and equity, when `withEquity`) in one round trip; plain reads where scripts cannot run. */
export async function loadPositionBook(redis: RedisReader, config: PositionBookConfig, withEquity = false): Promise<BookAndEquity> {
  let reply: Reply;
  try {
    reply = (await redis.eval_ro(
      READ_BOOK,
      4,
      keys.activePositions,
      config.POSITION_SNAPSHOT_STREAM,
      keys.p33PositionIndex,
      withEquity ? keys.portfolioState : '',
      prefixOf(keys.position),
      prefixOf(keys.positionAppliedId),
      config.POSITION_SNAPSHOT_GROUP,
      config.POSITION_BOOK_MAX_PENDING,
      prefixOf(keys.p33PositionSnapshot),
      prefixOf(keys.marketState),
    )) as Reply;
  } catch {
    reply = await readPlain(redis, config, withEquity);
  }
  return { book: mergeBook(reply, config.POSITION_BOOK_MAX_PENDING), equityRaw: reply[0] ?? undefined };
}

/**
 * The same reads as READ_BOOK without a script: not one atomic moment, so a snapshot applied
 * between the reads may be counted from both the view and the stream (the newer wins per symbol).
 */
async function readPlain(redis: RedisReader, config: PositionBookConfig, withEquity: boolean): Promise<Reply> {
  const stream = config.POSITION_SNAPSHOT_STREAM;
  const [equity, symbols, p33] = await Promise.all([
    withEquity ? redis.hget(keys.portfolioState, 'equity_usd') : Promise.resolve(null),
    redis.smembers(keys.activePositions),
    redis.smembers(keys.p33PositionIndex),
  ]);
  const rows = await Promise.all(
    symbols.map((s) => redis.hmget(keys.position(s), 'position_notional_usd', 'sigma', 'qty', 'mark_price', 'updated_at', 'volatility')),
  );
  let mode: 'group' | 'tail' | 'none' = 'none';
  let start = '-';
  try {
    const groups = (await redis.xinfo('GROUPS', stream)) as unknown[][];
    mode = 'tail';
    for (const g of groups) {
      const info = fieldsToRecord(g.map(String));
      if (info.name !== config.POSITION_SNAPSHOT_GROUP) continue;
      mode = 'group';
      start = `(${info['last-delivered-id']}`;
      if (Number(info.pending) > 0) {
        const summary = (await redis.xpending(stream, config.POSITION_SNAPSHOT_GROUP)) as [number, string];
        start = summary[1];
      }
    }
  } catch {
    // No stream: nothing to fold in.
  }
  const entries = mode === 'none' ? [] : await redis.xrevrange(stream, '+', start, 'COUNT', config.POSITION_BOOK_MAX_PENDING + 1);
  const entrySymbols = [...new Set(entries.map(([, f]) => fieldsToRecord(f).symbol ?? ''))];
  const appliedIds = await Promise.all(entrySymbols.map((s) => redis.get(keys.positionAppliedId(s))));
  const appliedBySymbol = new Map(entrySymbols.map((s, i) => [s, appliedIds[i] ?? '']));
  const applied = entries.map(([, f]) => appliedBySymbol.get(fieldsToRecord(f).symbol ?? '') ?? '');
  const p33rows = await Promise.all(
    p33.map(async (s) => {
      const [row, sigma] = await Promise.all([
        redis.hmget(keys.p33PositionSnapshot(s), 'position_amt', 'mark_price', 'ts_epoch', 'position_notional_usd', 'sigma'),
        redis.hget(keys.marketState(s), 'sigma'),
      ]);
      return [...row, sigma];
    }),
  );
  return [equity, symbols, rows, mode, entries, applied, p33, p33rows];
}

/** Per symbol the most recent figure; sigma from that figure, else from another source, else market state. */
function mergeBook(reply: Reply, bound: number): PositionBook {
  const [, symbols, rows, mode, rawEntries, applied, p33, p33rows] = reply;
  const best = new Map<string, BookPosition>();
  const sigmaOf = new Map<string, number>();
  const untrusted: UntrustedFigure[] = [];
  const offer = (p: BookPosition) => {
    if (p.sigma !== undefined && !sigmaOf.has(p.symbol)) sigmaOf.set(p.symbol, p.sigma);
    const current = best.get(p.symbol);
    if (current === undefined || p.asOfMs > current.asOfMs) best.set(p.symbol, p);
  };

  symbols.forEach((symbol, i) => {
    const [notional, sigmaRaw, qty, mark, updatedAt, volatility] = rows[i] ?? [];
    const sigma = figure(untrusted, symbol, sigmaRaw !== null && sigmaRaw !== undefined ? 'sigma' : 'volatility', sigmaRaw ?? volatility);
    // Absent: an index entry whose hash is being removed.
    const notionalUsd = figure(untrusted, symbol, 'position_notional_usd', notional);
    if (notionalUsd === undefined) return;
    offer({
      symbol,
      notionalUsd,
      sigma,
      qty: parseNumber(qty),
      markPrice: parseNumber(mark),
      asOfMs: parseNumber(updatedAt) ?? 0,
      origin: 'view',
    });
  });

  // Newest first, bounded; an entry at or before the symbol's applied id is already in the view.
  const entries = rawEntries.slice(0, bound);
  const foldedSymbols = new Set<string>();
  entries.forEach(([id, flat], i) => {
    const appliedId = applied[i] ?? '';
    if (appliedId !== '' && compareStreamIds(id, appliedId) <= 0) return;
    const fields = fieldsToRecord(flat);
    const parsed = positionSnapshotSchema.safeParse(fields);
    if (!parsed.success) {
      // The newest snapshot of a symbol has a figure that is no number (position-snapshot
      // dead-letters it): until then the symbol's figure is in doubt.
      const symbol = fields.symbol;
      if (symbol !== undefined && !foldedSymbols.has(symbol)) {
        for (const issue of parsed.error.issues) {
          const field = String(issue.path[0] ?? '');
          if (field !== 'symbol') untrusted.push({ symbol, field, value: (fields[field] ?? '').slice(0, 40) });
        }
      }
      return;
    }
    if (foldedSymbols.has(parsed.data.symbol)) return;
    foldedSymbols.add(parsed.data.symbol);
    const snapshot = parsed.data;
    // Replaces the view's figure for the symbol outright: it is newer than what the view applied.
    best.delete(snapshot.symbol);
    offer({
      symbol: snapshot.symbol,
      notionalUsd: snapshot.position_notional_usd,
      sigma: snapshot.sigma ?? snapshot.volatility,
      qty: snapshot.qty,
      markPrice: snapshot.mark_price,
      asOfMs: Number.parseInt(id, 10),
      origin: 'stream',
    });
  });

  p33.forEach((symbol, i) => {
    const [amtRaw, markRaw, tsRaw, notionalRaw, sigmaRaw, marketSigmaRaw] = p33rows[i] ?? [];
    const position = p33Figure(symbol, amtRaw, markRaw, tsRaw, notionalRaw, sigmaRaw, untrusted);
    if (position === undefined) return; // expired since the index was refreshed, or not P3.3's
    offer(position);
    const marketSigma = figure(untrusted, symbol, 'market_sigma', marketSigmaRaw);
    if (marketSigma !== undefined && !sigmaOf.has(symbol)) sigmaOf.set(symbol, marketSigma);
  });

  const positions = [...best.values()]
    .filter((p) => p.notionalUsd !== 0)
    .map((p) => (p.sigma === undefined && sigmaOf.has(p.symbol) ? { ...p, sigma: sigmaOf.get(p.symbol) } : p))
    .sort((a, b) => (a.symbol < b.symbol ? -1 : a.symbol > b.symbol ? 1 : 0));
  return { positions, streamRead: mode, truncated: rawEntries.length > bound, untrusted };
}

/**
 * A P3.3 hash as a position. P3.3 always writes ts_epoch: a hash without it is not the Ledger's
 * (a leftover of an earlier quantum-gates, which wrote its view under this name) and is ignored.
 * Notional is position_amt × mark_price, P3.3's own fields; position_notional_usd only where those
 * are missing (a leftover field of ours in a hash P3.3 has since rewritten must not win).
 */
function p33Figure(
  symbol: string,
  amtRaw: string | null | undefined,
  markRaw: string | null | undefined,
  tsRaw: string | null | undefined,
  notionalRaw: string | null | undefined,
  sigmaRaw: string | null | undefined,
  untrusted?: UntrustedFigure[],
): BookPosition | undefined {
  const ts = parseNumber(tsRaw);
  if (ts === undefined) return undefined;
  const amt = figure(untrusted, symbol, 'position_amt', amtRaw);
  const mark = figure(untrusted, symbol, 'mark_price', markRaw);
  const notionalUsd =
    amt !== undefined && mark !== undefined ? amt * mark : figure(untrusted, symbol, 'position_notional_usd', notionalRaw);
  if (notionalUsd === undefined) return undefined;
  // A ts_epoch in no known unit still names a real position: it counts, as the oldest figure for
  // its symbol (any snapshot with a time beats it), rather than hiding exposure.
  return {
    symbol,
    notionalUsd,
    sigma: figure(untrusted, symbol, 'sigma', sigmaRaw),
    qty: amt,
    markPrice: mark,
    asOfMs: epochMs(ts) ?? 0,
    origin: 'p33',
  };
}

/**
 * The Position Ledger's hash of one symbol, read directly (the symbol a message is about is
 * never left to the index's refresh bound). Undefined when absent or flat. Figures that are
 * present but no number are added to `untrusted` when it is given.
 */
export async function readP33Position(
  redis: RedisReader,
  symbol: string,
  untrusted?: UntrustedFigure[],
): Promise<BookPosition | undefined> {
  const [[amtRaw, markRaw, tsRaw, notionalRaw, sigmaRaw], marketSigma] = await Promise.all([
    redis.hmget(keys.p33PositionSnapshot(symbol), 'position_amt', 'mark_price', 'ts_epoch', 'position_notional_usd', 'sigma'),
    redis.hget(keys.marketState(symbol), 'sigma'),
  ]);
  const position = p33Figure(symbol, amtRaw, markRaw, tsRaw, notionalRaw, sigmaRaw, untrusted);
  if (position === undefined || position.notionalUsd === 0) return undefined;
  return position.sigma === undefined ? { ...position, sigma: figure(untrusted, symbol, 'market_sigma', marketSigma) } : position;
}
