import type { RedisReader } from '../../runtime/host/index.js';
import { shadowOutcomeKey } from './namespace.js';

/** The reads a follow-up makes of its own keys (a hash, strings, the pending sorted set); EXISTS's are all keys. */
const KEYED = new Set(['get', 'hget', 'hgetall', 'hmget', 'zcount', 'zrangebyscore', 'type']);

/**
 * The live reader for the shadow's outcome follow-ups (outcomes.ts): a follow-up's own keys (its
 * record, its samples' keys, the pending index and its version) are read where the shadow keeps
 * them, so a follow-up of the shadow's decision never sees the live follow-ups' records, nor they
 * its; the market (marks, positions) is read live. The key watch's cached reads are left out: a
 * follow-up then reads each key itself.
 */
export function outcomeReader(live: RedisReader): RedisReader {
  const own = (key: string): string => shadowOutcomeKey(key) ?? key;
  return new Proxy(live, {
    get(target, property, receiver) {
      if (property === 'keysToRead' || property === 'cachedReads') return undefined;
      const value: unknown = Reflect.get(target, property, receiver);
      if (typeof value !== 'function') return value;
      const method = (value as (...a: unknown[]) => unknown).bind(target);
      if (property === 'exists') return (...keys: string[]) => method(...keys.map(own));
      if (typeof property === 'string' && KEYED.has(property)) return (key: string, ...rest: unknown[]) => method(own(key), ...rest);
      return method;
    },
  });
}
