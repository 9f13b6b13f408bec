import * as z from 'zod';
import { defineHandler, type AnyHandler, type HandlerContext } from '../../runtime/contract/handler.js';
import type { RedisReader } from '../../runtime/contract/redis-reader.js';
import { parseEnv } from '../../schemas/env.js';

export interface EchoGateOptions<State> {
  /** The stream it reads (group `echo`) and the one it writes each message's `n` to. */
  readonly input: string;
  readonly output: string;
  readonly description?: string;
  readonly loadState?: (reader: RedisReader) => Promise<State>;
  /** Attempts before the message is dead-lettered (1 unless given). */
  readonly maxAttempts?: number;
  /** Runs for each message before its output is recorded; a promise is waited for. */
  readonly before?: (message: { readonly n: string }, ctx: HandlerContext<unknown, State, object>) => void | Promise<void>;
}

/** The runtime tests' stream gate `echo`: each message `{n}` becomes an output entry `{n}`. */
export function echoGate<State = undefined>(options: EchoGateOptions<State>): AnyHandler {
  const { input, output, loadState, before } = options;
  return defineHandler({
    name: 'echo',
    description: options.description ?? 'test gate echoing each message',
    trigger: { kind: 'stream', stream: () => input, group: () => 'echo' },
    input: z.looseObject({ n: z.string() }),
    config: (env) => parseEnv(z.object({}), env),
    metrics: () => ({}),
    ...(loadState === undefined ? {} : { batch: { loadState } }),
    failure: { maxAttempts: options.maxAttempts ?? 1, backoffMs: 0, policy: 'dead-letter' },
    async handle(message, ctx) {
      await before?.(message, ctx as HandlerContext<unknown, State, object>);
      ctx.emit(output, { n: message.n });
    },
  });
}
