import type { EffectRecorder, Fields, JobSummary, ScheduledJob } from './effects.js';
import type { HandlerContext, Logger, MessageMeta } from '../contract/handler.js';
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
 * The ctx a handler receives for one message: reads go to Redis, writes are recorded on the
 * message's own recorder. Built per message; nothing on it outlives the message.
 */
export class MessageContext<Config, State, Metrics extends object> implements HandlerContext<Config, State, Metrics> {
  private boundLog: Logger | undefined;
  private deferredMetrics: Metrics | undefined;

  constructor(
    private readonly deps: ContextDeps<Config, Metrics>,
    readonly recorder: EffectRecorder,
    readonly state: State,
    readonly meta: MessageMeta,
  ) {}

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
    this.deferredMetrics ??= deferMetrics(this.deps.metrics, this.recorder.metricCalls);
    return this.deferredMetrics;
  }
  now(): number {
    return this.deps.now();
  }

  emit(stream: string, fields: Fields, options?: { maxLen?: number; onFail?: () => void }): void {
    this.recorder.emit(stream, fields, options);
  }
  putHash(key: string, fields: Fields, options?: { ttlSec?: number; replace?: boolean; latestWins?: boolean; onFail?: () => void }): void {
    this.recorder.putHash(key, fields, options);
  }
  setKey(key: string, value: string, options?: { ttlSec?: number; onFail?: () => void }): void {
    this.recorder.setKey(key, value, options);
  }
  deleteKey(key: string): void {
    this.recorder.deleteKey(key);
  }
  addToSet(key: string, member: string): void {
    this.recorder.addToSet(key, member);
  }
  removeFromSet(key: string, member: string): void {
    this.recorder.removeFromSet(key, member);
  }
  addToSortedSet(key: string, score: number, member: string, options?: { ttlSec?: number }): void {
    this.recorder.addToSortedSet(key, score, member, options);
  }
  trimSortedSet(key: string, maxScore: number): void {
    this.recorder.trimSortedSet(key, maxScore);
  }
  pushToList(key: string, value: string, options: { maxLength: number; ttlSec?: number }): void {
    this.recorder.pushToList(key, value, options);
  }
  requireAbsent(key: string): void {
    this.recorder.requireAbsent(key);
  }
  orderBy(field: string, value: string): void {
    this.recorder.orderBy(field, value);
  }
  requireOff(key: string, offValues: readonly string[]): void {
    this.recorder.requireOff(key, offValues);
  }
  requireValue(key: string, value: string): void {
    this.recorder.requireValue(key, value);
  }
  onlyIfNewer(key: string, id: string, options?: { onSkip?: () => void }): void {
    this.recorder.onlyIfNewer(key, id, options);
  }
  schedule(job: ScheduledJob): void {
    this.recorder.schedule(job);
  }
  summarize(fields: JobSummary): void {
    this.recorder.summarize(fields);
  }
}
