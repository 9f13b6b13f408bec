/**
 * Checks that the yardstick (bench/hand-written-loop.ts) writes the same entries as the heat gate,
 * field by field (ids and timestamps aside), so the bench compares equal work.
 * Run: npx tsx bench/same-output.ts
 */
import { startTestRedis, freePort } from '../test/support/redis-server.js';
import { spawnTs } from './processes.js';
import { keys, streams } from '../schemas/keys.js';
const redis = await startTestRedis();
const r = redis.client;
await r.hset(keys.portfolioState, 'equity_usd', '3000');
// ETHUSDT carries its own mark (the decision records it), BTCUSDT none (the decision's mark is null).
for (const [s, n, sig, mark] of [
  ['ETHUSDT', 1800, 0.15, '2500.5'],
  ['BTCUSDT', -2000, 0.3, ''],
] as const)
  await r.xadd(
    streams.positionSnapshot,
    '*',
    'symbol',
    s,
    'position_notional_usd',
    String(n),
    'sigma',
    String(sig),
    ...(mark ? ['mark_price', mark] : []),
  );
const props = [
  ['plan_id', 'a', 'symbol', 'ETHUSDT', 'action', 'FULL_CLOSE', 'trace_id', 't1', 'reason', 'tp_hit'],
  ['plan_id', 'b', 'symbol', 'BTCUSDT', 'harvest_action', 'PARTIAL_50', 'extra', 'x'],
  ['plan_id', 'c', 'symbol', 'BTCUSDT', 'action', 'FULL_CLOSE'],
];
for (const p of props) await r.xadd(streams.harvestProposal, '*', ...p);
const rt = spawnTs('app/main.ts', { REDIS_URL: redis.url, PORT: String(await freePort()), HANDLERS: 'heat-gate', LOG_LEVEL: 'warn' });
const hw = spawnTs('bench/hand-written-loop.ts', { REDIS_URL: redis.url, EXPECT: String(props.length) });
while ((await r.xlen(streams.harvestCalibrated)) < props.length || (await r.xlen('bench:handwritten:calibrated')) < props.length)
  await new Promise((res) => setTimeout(res, 50));
await new Promise((res) => setTimeout(res, 300));
const norm = (entries: [string, string[]][]): Record<string, string>[] =>
  entries.map(([, f]) => {
    const o: Record<string, string> = {};
    for (let i = 0; i < f.length; i += 2) o[f[i]!] = f[i + 1]!;
    delete o.timestamp;
    delete o.ts_epoch;
    delete o.decided_at_ms;
    if (o.debug_json) o.debug_json = o.debug_json.replace(/"source_id":"[^"]+"/, '').replace(/"mark_age_ms":\d+/, '');
    // A missing trace_id becomes a fresh UUID on each side.
    const uuid = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g;
    if (o.trace_id) o.trace_id = o.trace_id.replace(uuid, '<uuid>');
    if (o.debug_json) o.debug_json = o.debug_json.replace(uuid, '<uuid>');
    return o;
  });
const a = norm((await r.xrange(streams.harvestCalibrated, '-', '+')) as [string, string[]][]),
  b = norm((await r.xrange('bench:handwritten:calibrated', '-', '+')) as [string, string[]][]);
const c = norm((await r.xrange(streams.heatDecision, '-', '+')) as [string, string[]][]),
  d = norm((await r.xrange('bench:handwritten:decision', '-', '+')) as [string, string[]][]);
const same = JSON.stringify(a) === JSON.stringify(b) && JSON.stringify(c) === JSON.stringify(d);
console.log('calibrated equal:', JSON.stringify(a) === JSON.stringify(b));
if (JSON.stringify(a) !== JSON.stringify(b)) console.log(JSON.stringify(a), '\n', JSON.stringify(b));
console.log('decisions equal:', JSON.stringify(c) === JSON.stringify(d));
if (JSON.stringify(c) !== JSON.stringify(d)) console.log(JSON.stringify(c), '\n', JSON.stringify(d));
await rt.stop();
await hw.stop();
await redis.stop();
process.exit(same ? 0 : 1);
