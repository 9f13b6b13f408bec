import { Cluster } from 'ioredis';
import type { RedisReader } from '../contract/redis-reader.js';
import type { RedisClient } from '../engine/connection.js';
import { FlatCommand } from '../engine/flat-command.js';

/** The read-script commands a handler's reader sends without ioredis's argument copy. */
type ScriptRead = 'eval_ro' | 'evalsha_ro';

/**
 * EVAL_RO or EVALSHA_RO built from its arguments as they are. ioredis's Command copies its
 * arguments with Array.prototype.flat (0.1-0.5 µs an argument, the more the slower: the
 * governor's batch read script carries ~20,000 for 500 plans, ~18 µs a plan) and writes the
 * command as one JavaScript string, then UTF-8 encoded; this writes the same bytes into one Buffer
 * (resp.ts, property-tested against ioredis's). Replies are decoded as ioredis's own eval_ro and
 * evalsha_ro decode them: UTF-8 strings.
 */
export class ScriptReadCommand extends FlatCommand {
  constructor(name: ScriptRead, args: string[]) {
    super(name, args, undefined, 'utf8');
  }
}

/** A script read's arguments as ioredis sends them: numbers as their text (ioredis's toArg). */
function scriptArgs(first: string, numKeys: number, keysAndArgs: readonly (string | number)[]): string[] {
  const args = new Array<string>(keysAndArgs.length + 2);
  args[0] = first;
  args[1] = String(numKeys);
  for (let i = 0; i < keysAndArgs.length; i++) args[i + 2] = String(keysAndArgs[i]);
  return args;
}

/**
 * The client as a handler's reader (ctx.redis, the batch state's loader), its eval_ro and
 * evalsha_ro sent as ScriptReadCommand: the same bytes on the wire, the same replies and errors
 * (NOSCRIPT included), sent when called rather than gathered with the turn's other commands by
 * ioredis's auto-pipelining (a read script is one command however many reads it carries). Every
 * other call goes to the client itself. A Cluster client keeps its own: it routes a command by
 * its keys, which ioredis reads from the arguments it copied.
 */
export function withFlatReadScripts(client: RedisClient): RedisReader {
  const reader = client as unknown as RedisReader;
  if (client instanceof Cluster) return reader;
  const send =
    (name: ScriptRead) =>
    (first: string, numKeys: number, ...keysAndArgs: (string | number)[]): Promise<unknown> =>
      client.sendCommand(new ScriptReadCommand(name, scriptArgs(first, numKeys, keysAndArgs))) as Promise<unknown>;
  const own = new Map<PropertyKey, unknown>([
    ['eval_ro', send('eval_ro')],
    ['evalsha_ro', send('evalsha_ro')],
  ]);
  // Each method bound once (handlers call them many times a batch), again if the client's changes.
  const bound = new Map<PropertyKey, { method: unknown; bound: unknown }>();
  return new Proxy(reader, {
    get(target, property) {
      if (own.has(property)) return own.get(property);
      const value: unknown = Reflect.get(target, property, target);
      if (typeof value !== 'function') return value;
      const known = bound.get(property);
      if (known?.method === value) return known.bound;
      const fresh = (value as (...args: unknown[]) => unknown).bind(target);
      bound.set(property, { method: value, bound: fresh });
      return fresh;
    },
  });
}
