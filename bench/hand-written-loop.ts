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

async function loadState() {
  const [[equityRaw], symbols] = await Promise.all([redis.hmget('quantum:state:portfolio', 'equity_usd'), redis.smembers('quantum:position:active_symbols')]);
  const pipeline = redis.pipeline();
  for (const s of symbols) pipeline.hmget(`quantum:position:snapshot:${s}`, 'position_notional_usd', 'sigma');
  const rows = ((await pipeline.exec()) ?? []).map(([, v]) => v as (string | null)[]);
  const equity = Number(equityRaw);
  let weighted = 0;
  for (const [notional, sigma] of rows) if (Number(sigma) > 0) weighted += Math.abs(Number(notional)) * Number(sigma);
  return equity > 0 ? weighted / equity : 0;
}

async function main() {
  await redis.xgroup('CREATE', input, group, '0', 'MKSTREAM').catch(() => undefined);
  let done = 0;
  while (expected === 0 || done < expected) {
    const reply = (await reader.xreadgroup('GROUP', group, 'c1', 'COUNT', count, 'BLOCK', 1000, 'STREAMS', input, '>')) as
      | [string, [string, string[]][]][]
      | null;
    const entries = reply?.[0]?.[1] ?? [];
    if (entries.length === 0) continue;
    const heat = await loadState();
    const bucket = heat < 0.25 ? 'COLD' : heat < 0.65 ? 'WARM' : 'HOT';
    const ts = String(Math.floor(Date.now() / 1000));
    const pipeline = redis.pipeline();
    const ids: string[] = [];
    for (const [id, fields] of entries) {
      ids.push(id);
      const f: Record<string, string> = {};
      for (let i = 0; i + 1 < fields.length; i += 2) f[fields[i]!] = fields[i + 1]!;
      const action = f.action ?? f.harvest_action ?? '';
      const out = action === 'FULL_CLOSE' ? (bucket === 'COLD' ? 'PARTIAL_25' : bucket === 'WARM' ? 'PARTIAL_75' : action) : action;
      pipeline.xadd(output, '*', 'trace_id', f.trace_id ?? '', 'plan_id', f.plan_id ?? '', 'symbol', f.symbol ?? '', 'original_action', action,
        'calibrated_action', out, 'heat_value', String(heat), 'heat_bucket', bucket, 'mode', 'shadow', 'calibrated', String(out !== action),
        'reason', `portfolio_heat_${bucket.toLowerCase()}`, 'timestamp', ts);
      pipeline.xadd(decisions, '*', 'ts_epoch', ts, 'symbol', f.symbol ?? '', 'plan_id', f.plan_id ?? '', 'in_action', action, 'out_action', out,
        'heat_level', bucket, 'heat_score', String(heat), 'reason', `portfolio_heat_${bucket.toLowerCase()}`, 'mode', 'shadow');
    }
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
