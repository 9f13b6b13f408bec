import type { Redis } from 'ioredis';
import { decodeTapeEntries, tapeKey, type TapeRecord } from '../../app/tape/format.js';
import { keys, streams } from '../../schemas/keys.js';

/** A heat-gate backlog: equity set, then `count` FULL_CLOSE proposals of ETHUSDT, plan ids `${prefix}0`, `${prefix}1`, …, in one pipeline. */
export async function writeCloseBacklog(redis: Redis, count: number, prefix: string): Promise<void> {
  await redis.hset(keys.portfolioState, 'equity_usd', '10000');
  const pipeline = redis.pipeline();
  for (let n = 0; n < count; n++)
    pipeline.xadd(streams.harvestProposal, '*', 'plan_id', `${prefix}${n}`, 'symbol', 'ETHUSDT', 'action', 'FULL_CLOSE');
  await pipeline.exec();
}

/** Every record on a gate's tape, in the order its entries were appended. */
export async function tapedRecords(redis: Redis, gate: string): Promise<TapeRecord[]> {
  return decodeTapeEntries(await redis.xrangeBuffer(tapeKey(gate), '-', '+'));
}
