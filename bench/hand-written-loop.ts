/**
 * The yardstick: a minimal hand-written ioredis consumer doing the heat gate's work, with none of
 * the runtime's guarantees beyond batching (XREADGROUP COUNT 500, state read once per batch,
 * outputs and one XACK pipelined once per batch). Not part of the product.
 *
 * Env: REDIS_URL, INPUT, GROUP, OUTPUT, DECISIONS, EXPECT (stop after this many), COUNT.
 */
import { Redis } from 'ioredis';

const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
const reader = redis.duplicate();
const input = process.env.INPUT ?? 'quantum:stream:harvest.proposal';
const group = process.env.GROUP ?? 'handwritten';
const output = process.env.OUTPUT ?? 'bench:handwritten:calibrated';
const decisions = process.env.DECISIONS ?? 'bench:handwritten:decision';
const expected = Number(process.env.EXPECT ?? 0);
const count = Number(process.env.COUNT ?? 500);

/**
 * The original P2.6's state read (portfolio_heat_gate/main.py _get_portfolio_heat): the portfolio
 * hash and the newest 50 entries of the snapshot stream, latest entry per symbol.
 */
async function loadState() {
  const [portfolio, snapshots] = await Promise.all([
    redis.hgetall('quantum:state:portfolio'),
    redis.xrevrange('quantum:stream:position.snapshot', '+', '-', 'COUNT', 50),
  ]);
  const equity = Number(portfolio.equity_usd ?? 0);
  const seen = new Set<string>();
  let weighted = 0;
  for (const [, fields] of snapshots) {
    const f: Record<string, string> = {};
    for (let i = 0; i + 1 < fields.length; i += 2) f[fields[i]!] = fields[i + 1]!;
    const symbol = f.symbol ?? '';
    if (symbol === '' || seen.has(symbol)) continue;
    seen.add(symbol);
    const sigma = Number(f.sigma || f.volatility || 0);
    if (sigma > 0) weighted += Math.abs(Number(f.position_notional_usd || 0)) * sigma;
  }
  return equity > 0 ? weighted / Math.max(equity, 1) : 0;
}

async function main() {
  await redis.xgroup('CREATE', input, group, '0', 'MKSTREAM').catch(() => undefined);
  let done = 0;
  while (expected === 0 || done < expected) {
    const reply = (await reader.xreadgroup('GROUP', group, 'c1', 'COUNT', count, 'BLOCK', 1000, 'STREAMS', input, '>')) as
      [string, [string, string[]][]][] | null;
    const entries = reply?.[0]?.[1] ?? [];
    if (entries.length === 0) continue;
    const heat = await loadState();
    const bucket = heat < 0.25 ? 'COLD' : heat < 0.65 ? 'WARM' : 'HOT';
    const nowMs = Date.now();
    const ts = String(Math.floor(nowMs / 1000));
    const heatValue = String(Math.round(heat * 1e6) / 1e6);
    const pipeline = redis.pipeline();
    const ids: string[] = [];
    // The same entries the heat gate writes (fields, carried proposal fields, debug_json), so the
    // comparison measures the runtime's overhead and not a smaller output.
    for (const [id, fields] of entries) {
      ids.push(id);
      const f: Record<string, string> = {};
      for (let i = 0; i + 1 < fields.length; i += 2) f[fields[i]!] = fields[i + 1]!;
      const action = f.action ?? f.harvest_action ?? '';
      const full = action === 'FULL_CLOSE';
      const out = full ? (bucket === 'COLD' ? 'PARTIAL_25' : bucket === 'WARM' ? 'PARTIAL_75' : action) : action;
      const reason = full ? `portfolio_heat_${bucket.toLowerCase()}` : 'action_not_full_close';
      const calibrated: string[] = [];
      for (const key in f) if (key !== 'action' && key !== 'harvest_action') calibrated.push(key, f[key]!);
      calibrated.push(
        'trace_id',
        f.trace_id ?? '',
        'plan_id',
        f.plan_id ?? '',
        'symbol',
        f.symbol ?? '',
        'original_action',
        action,
        'calibrated_action',
        out,
        'heat_value',
        heatValue,
        'heat_bucket',
        bucket,
        'mode',
        'shadow',
        'calibrated',
        String(out !== action),
        'reason',
        reason,
        'timestamp',
        ts,
      );
      pipeline.xadd(output, '*', ...calibrated);
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
        bucket,
        'heat_score',
        heatValue,
        'heat_action',
        full ? (out === action ? 'HOLD_CLOSE' : 'DOWNGRADE_FULL_TO_PARTIAL') : 'NONE',
        'recommended_partial',
        out === 'PARTIAL_25' && full ? '0.25' : out === 'PARTIAL_75' && full ? '0.75' : '',
        'reason',
        reason,
        'mode',
        'shadow',
        'debug_json',
        JSON.stringify({ trace_id: f.trace_id ?? '', source_id: id, heat_min: 0.25, heat_max: 0.65 }),
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
