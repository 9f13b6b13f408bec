import type { RedisReader } from '../../runtime/host/index.js';
import { shadowMarkerKey } from './namespace.js';

/**
 * The live reader, except for the gate's own idempotency keys: those the shadow reads from its own
 * markers (namespace.ts), since the incumbent writes the live ones for the same inputs. Without
 * it, a shadow deciding a plan after the incumbent permitted it would see it as already permitted.
 * Everything else (the book, the switches, the caps' reservations) is read live, as it is.
 */
export function markerReader(live: RedisReader, markers: () => ReadonlySet<string>): RedisReader {
  const own = (key: string): string => (markers().has(key) ? shadowMarkerKey(key) : key);
  return new Proxy(live, {
    get(target, property, receiver) {
      const value: unknown = Reflect.get(target, property, receiver);
      if (property === 'get') return (key: string) => target.get(own(key));
      if (property === 'exists') return (...keys: string[]) => target.exists(...keys.map(own));
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
}
