/**
 * What every producer fixture shares: the upstream repository they copy, the two eras, and the
 * few Python renderings (str(), f"{x:.Nf}", isoformat()) their fields are written in.
 *
 * Upstream: binyaminsemerci-ops/quantum_trader, read with
 * `git --git-dir=/work/.mirror/binyaminsemerci-ops+quantum_trader/repo show COMMIT:PATH`.
 * The seed era is the commits around the originals' (P3.2 8f5055c52, P2.8 ca9ec8239, 2026-01-28);
 * the newest is 73fab1f55 (2026-03-15). Each writer names the commit and lines it copies.
 */
import type { Redis } from 'ioredis';
import { pyFloatStr } from '../../../schemas/python-number.js';

export type Era = 'seed' | 'newest';
export const eras: readonly Era[] = ['seed', 'newest'];

/** The Redis commands a producer fixture uses (a plain client: no cluster in these suites). */
export type ProducerRedis = Pick<Redis, 'hset' | 'expire' | 'xadd' | 'set' | 'setex' | 'hgetall'>;

/** str(x) of a Python float (redis-py writes a float field as repr(), the same text). */
export const pyStr = pyFloatStr;

/** str(x) of a Python int. */
export const pyInt = (x: number): string => String(Math.trunc(x));

/** f"{x:.Nf}". */
export const pyFixed = (x: number, digits: number): string => x.toFixed(digits);

/** int(time.time()) at `nowMs`. */
export const epochSec = (nowMs: number): number => Math.floor(nowMs / 1000);

/** datetime.utcnow().isoformat(): microseconds shown, as they always are but at an exact second. */
export function pyUtcIsoformat(nowMs: number): string {
  const iso = new Date(nowMs).toISOString(); // 2026-03-15T06:27:09.123Z
  const ms = nowMs % 1000;
  return ms === 0 ? iso.slice(0, 19) : `${iso.slice(0, 23)}000`;
}

/** HSET key mapping in the dict's order, as redis-py sends it. */
export async function hsetMapping(redis: ProducerRedis, key: string, mapping: Record<string, string>): Promise<void> {
  await redis.hset(key, ...Object.entries(mapping).flat());
}

/** redis-py's xadd(stream, fields, maxlen=N): MAXLEN ~ N (approximate is redis-py's default). */
export async function xaddMaxlen(redis: ProducerRedis, stream: string, fields: Record<string, string>, maxlen?: number): Promise<string> {
  const args = Object.entries(fields).flat();
  const id = maxlen === undefined ? await redis.xadd(stream, '*', ...args) : await redis.xadd(stream, 'MAXLEN', '~', maxlen, '*', ...args);
  return String(id);
}
