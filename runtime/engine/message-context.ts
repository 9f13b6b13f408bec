import { EffectRecorder } from './effects.js';
import type { HandlerContext, MessageMeta } from '../contract/handler.js';
import type { Logger } from '../contract/logger.js';
import { deferMetrics } from './metrics.js';
import type { RedisReader } from '../contract/redis-reader.js';

export interface ContextDeps<Config, Metrics> {
  readonly redis: RedisReader;
  readonly config: Config;
  readonly metrics: Metrics;
  readonly now: () => number;
  /** Builds the message's logger on first use, so messages that never log pay nothing. */
  readonly logger: (meta: MessageMeta) => Logger;
}

/**
 * The ctx a handler receives for one message: reads go to Redis, writes are recorded on the ctx
 * itself, which is the message's EffectRecorder (so the effect methods are the recorder's own,
 * not forwarded one by one). Built per message; nothing on it outlives the message.
 */
export class MessageContext<Config, State, Metrics extends object>
  extends EffectRecorder
  implements HandlerContext<Config, State, Metrics>
{
  private boundLog: Logger | undefined;
  private deferredMetrics: Metrics | undefined;

  constructor(
    private readonly deps: ContextDeps<Config, Metrics>,
    readonly state: State,
    readonly meta: MessageMeta,
  ) {
    super();
  }

  get redis(): RedisReader {
    return this.deps.redis;
  }
  get config(): Config {
    return this.deps.config;
  }
  get log(): Logger {
    this.boundLog ??= this.deps.logger(this.meta);
    return this.boundLog;
  }
  get metrics(): Metrics {
    this.deferredMetrics ??= deferMetrics(this.deps.metrics, this.metricCalls);
    return this.deferredMetrics;
  }
  now(): number {
    return this.deps.now();
  }
}
