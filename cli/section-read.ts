import type { RedisReader, StatusSectionDeclaration } from '../runtime/contract/index.js';
import { OperationalError } from './errors.js';
import type { CliIo } from './io.js';

/**
 * One gate's status section read straight from Redis with the gate's own reader, as GET /status
 * reads it: a command shows what the page shows without reading the gate's keys again itself.
 * A read that fails throws (the command reports it and exits 1) instead of becoming null.
 */
export async function readSection<Config, Value>(
  redis: RedisReader,
  section: StatusSectionDeclaration<Config, Value>,
  io: Pick<CliIo, 'env' | 'now'>,
): Promise<Value> {
  const value = await section.read({ redis, config: undefined, env: io.env, now: () => io.now(), read: (_part, read) => read() });
  if (value === null) throw new OperationalError(`could not read ${section.title}`);
  return value;
}
