/**
 * What a round trip costs a lone decision on this machine (`npx tsx bench/lone-round-trips.ts`): a
 * private redis-server, one client as the gates open theirs (RESP2, auto-pipelined), and reads sent
 * 100-150 ms apart, as upstream's messages come: one HMGET, 20 HMGETs in one pipeline (the changed
 * tickers a lone plan reads), and the same 20 in one script. Each line: p25, p50, p75 of the reply's
 * wait; for the 20 HMGETs also the time to make them (before any reply).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { REDIS_PROTOCOL } from '../runtime/host/redis.js';
import { startTestRedis } from '../test/support/redis-server.js';
import { percentile } from './processes.js';

const ROUNDS = Number(process.env.ROUNDS ?? 200);
const redis = await startTestRedis();
const client = new Redis(redis.url, { protocol: REDIS_PROTOCOL, enableAutoPipelining: true });
try {
  const keys = Array.from({ length: 20 }, (_, i) => `quantum:ticker:SYM${i}USDT`);
  for (const key of keys) await client.hset(key, { markPrice: '1.5', timestamp: '1795973357000' });
  const script = `local out = {} for i = 1, #KEYS do out[i] = redis.pcall('HMGET', KEYS[i], 'markPrice', 'timestamp') end return out`;
  const sha = String(await client.script('LOAD', script));
  const waits = { 'one HMGET': [] as number[], '20 HMGETs, pipelined': [] as number[], '20 HMGETs, one script': [] as number[] };
  const making: number[] = [];
  for (let i = 0; i < ROUNDS * 3; i++) {
    await sleep(100 + Math.random() * 50);
    const start = performance.now();
    if (i % 3 === 0) {
      await client.hmget(keys[0]!, 'markPrice', 'timestamp');
      waits['one HMGET'].push(performance.now() - start);
    } else if (i % 3 === 1) {
      const replies = keys.map((key) => client.hmget(key, 'markPrice', 'timestamp'));
      making.push(performance.now() - start);
      await Promise.all(replies);
      waits['20 HMGETs, pipelined'].push(performance.now() - start);
    } else {
      await client.evalsha(sha, keys.length, ...keys);
      waits['20 HMGETs, one script'].push(performance.now() - start);
    }
  }
  const line = (values: readonly number[]) => {
    const sorted = [...values].sort((a, b) => a - b);
    return `${[25, 50, 75].map((p) => percentile(sorted, p).toFixed(3)).join(' / ')} ms`;
  };
  console.log(`${ROUNDS} of each, 100-150 ms apart (p25 / p50 / p75):`);
  for (const [name, values] of Object.entries(waits)) console.log(`  ${name.padEnd(24)} ${line(values)}`);
  console.log(`  ${'making the 20 HMGETs'.padEnd(24)} ${line(making)}`);
} finally {
  client.disconnect();
  await redis.stop();
}
