import { redisAddress, redisIdentity, type StatusInstance } from '../app/cli-door.js';
import { OperationalError } from './errors.js';
import type { CliIo } from './io.js';
import { cliRedis, withConnection } from './redis.js';

/** The Redis `status` was told to use, and what it is, to tell whether an instance's status is about it. */
export interface OwnRedis {
  /** As configured, no password. */
  readonly address: string;
  readonly namedBy: string;
  /** Its identity (runtime/host/redis-identity.ts), null when it did not answer. */
  readonly id: string | null;
  /** Why it did not answer. */
  readonly error?: string;
}

/** The Redis the variables (or the env file) name, asked for its identity; undefined when nothing named one. */
export async function ownRedis(io: CliIo): Promise<OwnRedis | undefined> {
  let target: Awaited<ReturnType<typeof cliRedis>>;
  try {
    target = await cliRedis(io);
  } catch (error) {
    // The checkout's private server is not there: the gates' own status still says what they see.
    if (!(error instanceof OperationalError)) throw error;
    io.err(`quantum-gates: ${error.message.replace(/\. Nothing was done$/, '')}`);
    return undefined;
  }
  const { config, namedBy } = target;
  if (namedBy === undefined) return undefined;
  const address = redisAddress(config);
  try {
    return { address, namedBy, id: await withConnection(io, config, (redis) => redisIdentity(redis)) };
  } catch (error) {
    return { address, namedBy, id: null, error: (error as Error).message };
  }
}

/**
 * Why an instance's status is not about the Redis this command was told to use, or undefined when
 * it is (or when the instance, an older build, does not say). Identities are compared where both
 * are known: one Redis reached by two addresses is the same one, and two deployments on
 * `127.0.0.1:6379` of two machines are not. Otherwise the configured addresses are.
 */
export function redisMismatch(own: OwnRedis, instance: StatusInstance | null | undefined): string | undefined {
  if (instance?.redis === undefined) return undefined;
  const theirs = `${instance.redis}${instance.redis_id ? ` (${instance.redis_id})` : ''}`;
  const ours = `${own.address} (${own.namedBy}${own.id ? `, ${own.id}` : ''})`;
  if (own.id !== null && instance.redis_id) return own.id === instance.redis_id ? undefined : `it runs on Redis ${theirs}, not on ${ours}`;
  if (instance.redis === own.address) return undefined;
  return own.error === undefined
    ? `it runs on Redis ${theirs}, not on ${ours}`
    : `it runs on Redis ${theirs}, not on ${ours}, which does not answer: ${own.error}`;
}
