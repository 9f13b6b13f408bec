/**
 * The governor's floor: a minimal hand-written ioredis consumer making the governor's decision with
 * the fewest commands a correct one needs, none of the runtime's guarantees (no tape, no outcome
 * follow-up, no commit guard, no dead letters). Not part of the product; bench/pipeline-rates.ts
 * sets the gates' commands per decision beside it.
 *
 * A decision reads, in one round trip: the kill switch, whether the plan_id was permitted before,
 * the symbol's cooldown record, the held book as the original read it (the snapshot stream's newest
 * 50 entries), the outstanding reservations and the symbol's market mark (an open's price). It
 * writes, in a second: a close's or an allowed open's permit, its permitted marker and cooldown
 * record (an open: its reservation), the permit or block event, and the XACK.
 *
 * Env: REDIS_URL, COUNT (entries a read), MAX_TOTAL_USD, MAX_TRADE_USD, MAX_OPEN, COOLDOWN_SEC.
 */
import { Redis } from 'ioredis';
import { keys, streams } from '../schemas/keys.js';

const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', { protocol: 2 });
const reader = redis.duplicate();
const group = 'floor-governor';
const count = Number(process.env.COUNT ?? 10);
const maxTotalUsd = Number(process.env.MAX_TOTAL_USD ?? 2000);
const maxTradeUsd = Number(process.env.MAX_TRADE_USD ?? 200);
const maxOpen = Number(process.env.MAX_OPEN ?? 10);
const cooldownSec = Number(process.env.COOLDOWN_SEC ?? 60);
const CLOSES = new Set(['FULL_CLOSE_PROPOSED', 'PARTIAL_75', 'PARTIAL_50', 'PARTIAL_25']);

const record = (fields: string[]): Record<string, string> => {
  const f: Record<string, string> = {};
  for (let i = 0; i + 1 < fields.length; i += 2) f[fields[i]!] = fields[i + 1]!;
  return f;
};

async function decide(id: string, f: Record<string, string>): Promise<void> {
  const planId = f.plan_id ?? '';
  const symbol = f.symbol ?? '';
  const [[, kill], [, permitted], [, lastExec], [, snapshots], [, reservations], [, mark]] = (await redis
    .pipeline()
    .get(keys.killSwitch)
    .exists(keys.governorPermitted(planId))
    .get(keys.governorLastExec(symbol))
    .xrevrange(streams.positionSnapshot, '+', '-', 'COUNT', 50)
    .zrangebyscore(keys.governorReservations, Date.now(), '+inf')
    .hmget(keys.marketState(symbol), 'mark_price')
    .exec()) as [unknown, unknown][] as [
    [unknown, unknown],
    [unknown, unknown],
    [unknown, unknown],
    [unknown, unknown],
    [unknown, unknown],
    [unknown, unknown],
  ];
  const nowMs = Date.now();
  const close = CLOSES.has(f.action ?? '');
  let reason = '';
  if (f.decision !== 'EXECUTE') reason = 'not_execute';
  else if (kill !== null && kill !== '0' && kill !== 'false' && kill !== '') reason = 'kill_switch_active';
  else if (permitted === 1) reason = 'plan_id_reused';
  else if (!close) {
    const held = new Map<string, number>();
    for (const [, fields] of snapshots as [string, string[]][]) {
      const s = record(fields);
      if (s.symbol !== undefined && !held.has(s.symbol)) held.set(s.symbol, Math.abs(Number(s.position_notional_usd ?? 0)));
    }
    let total = 0;
    for (const n of held.values()) total += n;
    for (const member of reservations as string[]) total += (JSON.parse(member) as { notional: number }).notional;
    const notional = Math.abs(Number(f.qty ?? 0)) * Number((mark as (string | null)[])[0] ?? f.price ?? 0);
    if (lastExec !== null && nowMs / 1000 - Number(lastExec) < cooldownSec) reason = 'symbol_cooldown';
    else if (!held.has(symbol) && held.size >= maxOpen) reason = 'max_positions_reached';
    else if (notional > maxTradeUsd) reason = 'notional_per_trade_exceeded';
    else if (total + notional > maxTotalUsd) reason = 'total_notional_exceeded';
  }
  const write = redis.pipeline();
  if (reason === '') {
    write.set(keys.permit(planId), JSON.stringify({ granted: true, symbol, decision: 'EXECUTE', created_at: nowMs / 1000 }), 'EX', 60);
    write.set(keys.governorPermitted(planId), '1', 'EX', 86_400);
    write.set(keys.governorLastExec(symbol), String(nowMs / 1000), 'EX', 3600);
    if (!close) write.zadd(keys.governorReservations, nowMs + 60_000, JSON.stringify({ plan_id: planId, symbol, notional: 10 }));
    write.xadd(streams.governorEvents, '*', 'event', 'permit', 'plan_id', planId, 'symbol', symbol);
  } else write.xadd(streams.governorEvents, '*', 'event', 'block', 'plan_id', planId, 'symbol', symbol, 'reason', reason);
  write.xack(streams.applyPlan, group, id);
  await write.exec();
}

async function main() {
  await redis.xgroup('CREATE', streams.applyPlan, group, '$', 'MKSTREAM').catch(() => undefined);
  for (;;) {
    const reply = (await reader.xreadgroup('GROUP', group, 'c1', 'COUNT', count, 'BLOCK', 1000, 'STREAMS', streams.applyPlan, '>')) as
      [string, [string, string[]][]][] | null;
    for (const [id, fields] of reply?.[0]?.[1] ?? []) await decide(id, record(fields));
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
