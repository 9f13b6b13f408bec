/**
 * The yardstick: a minimal hand-written ioredis consumer doing the heat gate's work, with none of
 * the runtime's guarantees beyond batching (XREADGROUP COUNT 500, state read once per batch,
 * outputs and one XACK pipelined once per batch). Not part of the product.
 *
 * Env: REDIS_URL, INPUT, GROUP, OUTPUT, DECISIONS, EXPECT (stop after this many), COUNT.
 */
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { FREE_TEXT_MAX } from '../schemas/harvest-proposal.js';
import { DEBUG_JSON_MAX } from '../schemas/heat-gate.js';
import { pyFloatStr, pythonRound } from '../schemas/python-number.js';

/** Free text as the gate copies it: at most FREE_TEXT_MAX characters. */
const cut = (value: string): string => (value.length > FREE_TEXT_MAX ? value.slice(0, FREE_TEXT_MAX) : value);

// RESP2, as the gates' connections speak it (runtime/host/redis.ts, REDIS_PROTOCOL): the same wire for both.
const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', { protocol: 2 });
const reader = redis.duplicate();
const input = process.env.INPUT ?? 'quantum:stream:harvest.proposal';
const group = process.env.GROUP ?? 'handwritten';
const output = process.env.OUTPUT ?? 'bench:handwritten:calibrated';
const decisions = process.env.DECISIONS ?? 'bench:handwritten:decision';
const expected = Number(process.env.EXPECT ?? 0);
const count = Number(process.env.COUNT ?? 500);

/** A position as the newest snapshot entry of its symbol gives it. */
interface Position {
  readonly notional: number;
  readonly markPrice: number;
  readonly asOfMs: number;
}

/**
 * The original P2.6's state read (portfolio_heat_gate/main.py _get_portfolio_heat): the portfolio
 * hash and the newest 50 entries of the snapshot stream, latest entry per symbol. Since issue #26
 * the gate's decision also names each symbol's share of the heat and, for a decision that changes
 * the action, the position and its mark: the loop keeps what it needs for them too.
 */
async function loadState() {
  const [portfolio, snapshots] = await Promise.all([
    redis.hgetall('quantum:state:portfolio'),
    redis.xrevrange('quantum:stream:position.snapshot', '+', '-', 'COUNT', 50),
  ]);
  const equity = Number(portfolio.equity_usd ?? 0);
  const positions = new Map<string, Position>();
  const risks: { symbol: string; risk: number }[] = [];
  let weighted = 0;
  for (const [id, fields] of snapshots) {
    const f: Record<string, string> = {};
    for (let i = 0; i + 1 < fields.length; i += 2) f[fields[i]!] = fields[i + 1]!;
    const symbol = f.symbol ?? '';
    if (symbol === '' || positions.has(symbol)) continue;
    const notional = Number(f.position_notional_usd || 0);
    positions.set(symbol, { notional, markPrice: Number(f.mark_price || 0), asOfMs: Number.parseInt(id, 10) });
    const sigma = Number(f.sigma || f.volatility || 0);
    if (sigma > 0) {
      weighted += Math.abs(notional) * sigma;
      risks.push({ symbol, risk: Math.abs(notional) * sigma });
    }
  }
  const divisor = Math.max(equity, 1);
  // Largest share first, once per batch; each decision fits as many as its debug_json has room for.
  const shares = risks
    .map(({ symbol, risk }) => ({ symbol, share: Number((risk / divisor).toPrecision(6)), heat: risk / divisor }))
    .sort((x, y) => y.heat - x.heat || (x.symbol < y.symbol ? -1 : x.symbol > y.symbol ? 1 : 0));
  // Every symbol's share, by symbol name, as the decision's heat_by_symbol (issue #40), once per batch.
  const sharesJson = JSON.stringify(
    Object.fromEntries(
      [...risks]
        .sort((x, y) => (x.symbol < y.symbol ? -1 : x.symbol > y.symbol ? 1 : 0))
        .map(({ symbol, risk }) => [symbol, risk / divisor]),
    ),
  );
  return { heat: equity > 0 ? weighted / divisor : 0, counted: risks.length, positions, shares, sharesJson };
}

/**
 * The freshest mark of each symbol whose decision changes the action, as the gate reads it (one
 * read per symbol and batch): the market state, the price feed's ticker and P3.3's hash under both
 * prefixes, with the position's own snapshot mark among them; none fresher than 30 s: null.
 */
async function freshestMarks(
  symbols: readonly string[],
  positions: ReadonlyMap<string, Position>,
  nowMs: number,
): Promise<Map<string, { price: number; source: string; at: number } | null>> {
  const pipeline = redis.pipeline();
  for (const symbol of symbols) {
    pipeline.hmget(`quantum:state:market:${symbol}`, 'mark_price', 'timestamp');
    pipeline.hmget(`quantum:ticker:${symbol}`, 'markPrice', 'timestamp');
    pipeline.hmget(`quantum:position:snapshot:${symbol}`, 'mark_price', 'ts_epoch');
    pipeline.hmget(`quantum:state:positions:${symbol}`, 'mark_price', 'ts_epoch');
  }
  const replies = ((await pipeline.exec()) ?? []).map(([, reply]) => reply as (string | null)[]);
  const out = new Map<string, { price: number; source: string; at: number } | null>();
  symbols.forEach((symbol, i) => {
    const own = positions.get(symbol);
    const quotes: { price: number; source: string; at: number }[] = [];
    if (own !== undefined && own.markPrice > 0) quotes.push({ price: own.markPrice, source: 'position', at: own.asOfMs });
    const timed = (pair: (string | null)[] | undefined, source: string, seconds: boolean) => {
      const price = Number(pair?.[0]);
      const at = Number(pair?.[1]);
      if (price > 0 && at > 0) quotes.push({ price, source, at: seconds ? at * 1000 : at });
    };
    timed(replies[i * 4 + 1], 'ticker', false);
    timed(replies[i * 4 + 2], 'p33', true);
    timed(replies[i * 4 + 3], 'p33', true);
    let best: { price: number; source: string; at: number } | null = null;
    for (const q of quotes) if (nowMs - q.at <= 30_000 && (best === null || q.at > best.at)) best = q;
    out.set(symbol, best);
  });
  return out;
}

/**
 * `,"by_symbol":{…}[,"by_symbol_others":N]` for a debug_json whose other members take `used`
 * characters. The shares are the batch's, and `used` differs only with the lengths of the trace
 * and entry ids: a careful hand-written loop keeps the text per length, as the gate does.
 */
function sharesText(shares: readonly { symbol: string; share: number; heat: number }[], used: number, kept: Map<number, string>): string {
  let text = kept.get(used);
  if (text !== undefined) return text;
  text = '';
  if (shares.length > 0) {
    let left = DEBUG_JSON_MAX - used - 80 - 50;
    let others = 0;
    const named: string[] = [];
    for (const s of shares) {
      const cost = JSON.stringify(s.symbol).length + String(s.share).length + 2;
      if (cost <= left) {
        named.push(`${JSON.stringify(s.symbol)}:${s.share}`);
        left -= cost;
      } else others += s.heat;
    }
    text = `,"by_symbol":{${named.join(',')}}` + (others > 0 ? `,"by_symbol_others":${Number(others.toPrecision(6))}` : '');
  }
  kept.set(used, text);
  return text;
}

async function main() {
  await redis.xgroup('CREATE', input, group, '0', 'MKSTREAM').catch(() => undefined);
  let done = 0;
  while (expected === 0 || done < expected) {
    const reply = (await reader.xreadgroup('GROUP', group, 'c1', 'COUNT', count, 'BLOCK', 1000, 'STREAMS', input, '>')) as
      [string, [string, string[]][]][] | null;
    const entries = reply?.[0]?.[1] ?? [];
    if (entries.length === 0) continue;
    const { heat, counted, positions, shares, sharesJson } = await loadState();
    const sharesByLength = new Map<number, string>();
    const bucket = heat < 0.25 ? 'COLD' : heat < 0.65 ? 'WARM' : 'HOT';
    const nowMs = Date.now();
    const ts = String(Math.floor(nowMs / 1000));
    const heatValue = pyFloatStr(heat);
    const heatScore = pyFloatStr(pythonRound(heat, 4));
    // Full closes are the decisions that can change the action; their symbols' marks are read first.
    const changing = new Set<string>();
    for (const [, fields] of entries) {
      const f: Record<string, string> = {};
      for (let i = 0; i + 1 < fields.length; i += 2) f[fields[i]!] = fields[i + 1]!;
      if ((f.action ?? f.harvest_action) === 'FULL_CLOSE' && bucket !== 'HOT') changing.add(f.symbol ?? '');
    }
    const marks = changing.size === 0 ? new Map() : await freshestMarks([...changing], positions, nowMs);
    const pipeline = redis.pipeline();
    const ids: string[] = [];
    // The same entries the heat gate writes, field by field as the original P2.6 did (the
    // calibrated entry's 11 fields then the proposal's own, the 13-field decision, Python's number
    // text, a UUID for a missing trace_id, debug_json), so the comparison measures the runtime's
    // overhead and not a smaller output.
    for (const [id, fields] of entries) {
      ids.push(id);
      const f: Record<string, string> = {};
      for (let i = 0; i + 1 < fields.length; i += 2) f[fields[i]!] = fields[i + 1]!;
      const action = f.action ?? f.harvest_action ?? '';
      const full = action === 'FULL_CLOSE';
      const out = full ? (bucket === 'COLD' ? 'PARTIAL_25' : bucket === 'WARM' ? 'PARTIAL_75' : action) : action;
      const reason = full
        ? `portfolio_heat_${bucket.toLowerCase()}`
        : action.startsWith('PARTIAL_')
          ? 'partial_unchanged'
          : 'non_full_close_unchanged';
      const traceId = f.trace_id === undefined ? randomUUID() : cut(f.trace_id);
      const own: Record<string, string> = {
        trace_id: traceId,
        plan_id: f.plan_id ?? '',
        symbol: f.symbol ?? '',
        original_action: action,
        calibrated_action: out,
        heat_value: heatValue,
        heat_bucket: bucket,
        mode: 'shadow',
        calibrated: 'true',
        reason,
        timestamp: ts,
      };
      const calibrated: string[] = [];
      for (const key in own) calibrated.push(key, own[key]!);
      for (const key in f) if (key !== 'action' && !(key in own)) calibrated.push(key, cut(f[key]!));
      pipeline.xadd(output, '*', ...calibrated);
      const partial = out === 'PARTIAL_25' && full ? pyFloatStr(0.25) : out === 'PARTIAL_75' && full ? pyFloatStr(0.75) : '';
      // A decision that changes the action carries the position and the freshest mark, its source,
      // time and age (the reads above, as the gate makes them).
      let atDecision = '';
      if (out !== action) {
        const position = positions.get(f.symbol ?? '');
        const mark = marks.get(f.symbol ?? '') ?? null;
        atDecision =
          mark === null
            ? ',"mark":null'
            : `,"mark":${mark.price},"mark_source":"${mark.source}","mark_at":${mark.at},"mark_age_ms":${Math.max(0, nowMs - mark.at)}`;
        if (position !== undefined) atDecision += `,"position_usd":${position.notional}`;
      }
      const head =
        `{"thresholds":{"warm":0.25,"hot":0.65},"trace_id":${JSON.stringify(traceId.slice(0, 64))},"source_id":${JSON.stringify(id)}` +
        `${atDecision},"heat":${heat},"positions":${counted}`;
      const debug = `${head}${sharesText(shares, head.length + 1, sharesByLength)}}`;
      pipeline.xadd(
        decisions,
        '*',
        'ts_epoch',
        ts,
        'symbol',
        f.symbol ?? '',
        'plan_id',
        f.plan_id ?? '',
        'in_action',
        action,
        'out_action',
        out,
        'heat_level',
        bucket.toLowerCase(),
        'heat_score',
        heatScore,
        'heat_action',
        out !== action ? 'DOWNGRADE_FULL_TO_PARTIAL' : 'NONE',
        'recommended_partial',
        partial,
        'reason',
        'ok',
        'inputs_age_sec',
        '',
        'mode',
        'shadow',
        'debug_json',
        debug,
        ...(counted > 0 ? ['heat_by_symbol', sharesJson] : []),
        'decided_at_ms',
        String(nowMs),
      );
    }
    pipeline.hset('quantum:portfolio:heat', 'heat', heatValue, 'bucket', bucket, 'updated_at', String(nowMs));
    pipeline.xack(input, group, ...ids);
    await pipeline.exec();
    done += entries.length;
  }
  redis.disconnect();
  reader.disconnect();
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
