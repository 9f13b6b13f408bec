import { Redis, type Cluster } from 'ioredis';
import { buildInfo } from '../../app/build-info.js';
import { allHandlers } from '../../handlers/index.js';
import type { AnyHandler } from '../../runtime/contract/handler.js';
import type { RedisReader } from '../../runtime/contract/index.js';
import { createRuntime, type Runtime, type RuntimeOptions } from '../../runtime/host/runtime.js';
import { fieldsToRecord } from '../../schemas/fields.js';
import { streams } from '../../schemas/keys.js';
import { untilKeys, untilStream } from './until.js';

let consumerSeq = 0;

/**
 * Builds a runtime on PORT=0 against `redisUrl`, quiet unless LOG_LEVEL is given, with a consumer
 * name of its own; not started, for tests that need the address start() resolves with.
 */
export async function createTestRuntime(
  redisUrl: string,
  env: Record<string, string> = {},
  handlers: readonly AnyHandler[] = allHandlers,
  options: Partial<RuntimeOptions> = {},
): Promise<Runtime> {
  consumerSeq += 1;
  return createRuntime({
    env: {
      REDIS_URL: redisUrl,
      PORT: '0',
      LOG_LEVEL: 'silent',
      BLOCK_MS: '100',
      // Tests read /status right after what they arranged: a shared read up to a second old
      // (STATUS_CACHE_MS, test/integration/http-storm.test.ts) would race them.
      STATUS_CACHE_MS: '0',
      // A test's assertions are of what it arranged, not of this machine's speed: on a loaded CI
      // machine (two suites, Chromium) the event loop lags past @fastify/under-pressure's 1 s, and its
      // 503 stood in for /status's, /health's and /metrics' answers. Off unless a test sets it.
      MAX_EVENT_LOOP_DELAY_MS: '0',
      CONSUMER_NAME: `test-${process.pid}-${consumerSeq}`,
      ...env,
    },
    handlers,
    ...options,
    build: options.build ?? buildInfo(),
  });
}

/** createTestRuntime, started. */
export async function startRuntime(
  redisUrl: string,
  env: Record<string, string> = {},
  handlers: readonly AnyHandler[] = allHandlers,
  options: Partial<RuntimeOptions> = {},
): Promise<Runtime> {
  const runtime = await createTestRuntime(redisUrl, env, handlers, options);
  await runtime.start();
  return runtime;
}

/** Polls `probe` until it returns a truthy value or the deadline passes. */
export async function waitFor<T>(
  probe: () => Promise<T> | T,
  { timeoutMs = 15_000, intervalMs = 25, what = 'condition' } = {},
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: T | undefined;
  while (Date.now() < deadline) {
    last = await probe();
    if (last) return last as NonNullable<T>;
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (last: ${JSON.stringify(last)})`);
}

/** All entries of a stream as field maps, oldest first. */
/** The governor's decision events (permits and blocks), in stream order: what most governor tests count. */
export async function governorDecisions(
  redis: Pick<Redis, 'xrange'> | Pick<Cluster, 'xrange'>,
): Promise<(Record<string, string> & { _id: string })[]> {
  return (await readStream(redis, streams.governorEvents)).filter(isDecision);
}

const isDecision = (event: Record<string, string>): boolean => event.event === 'permit' || event.event === 'block';

/** The same reader without key watches: loadPositionBook sends every read (Redis Cluster's path, or a watch not live). */
export function withoutKeyWatch(reader: RedisReader): RedisReader {
  return new Proxy(reader, {
    get(target, property, receiver) {
      if (property === 'keysToRead' || property === 'cachedReads') return undefined;
      const value: unknown = Reflect.get(target, property, receiver);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}

/** The same reader without the key watch's kept replies: every read of the book sent, the watch's listing kept. */
export function withoutCache(reader: RedisReader): RedisReader {
  return new Proxy(reader, {
    get(target, property, receiver) {
      if (property === 'cachedReads') return undefined;
      const value: unknown = Reflect.get(target, property, receiver);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}

/** Waits until the governor has decided at least `count` plans; their decision events. */
export function governorDecided(redis: Redis, count: number, timeoutMs = 20_000): Promise<(Record<string, string> & { _id: string })[]> {
  return untilStream(
    redis,
    streams.governorEvents,
    (events) => {
      const decisions = events.filter(isDecision);
      return decisions.length >= count && decisions;
    },
    { what: `${count} plans decided`, timeoutMs },
  );
}

/** /ready of a runtime at `base` (the address its start answered): status and body. */
export async function readyAt(base: string): Promise<{ status: number; body: string }> {
  const answer = await fetch(`${base}/ready`);
  return { status: answer.status, body: await answer.text() };
}

export async function readStream(
  redis: Pick<Redis, 'xrange'> | Pick<Cluster, 'xrange'>,
  stream: string,
): Promise<(Record<string, string> & { _id: string })[]> {
  const entries = await redis.xrange(stream, '-', '+');
  return entries.map(([id, fields]) => ({ _id: id, ...fieldsToRecord(fields) }));
}

/** Number of entries pending (delivered, not acknowledged) in a consumer group. */
export async function pendingCount(redis: Redis, stream: string, group: string): Promise<number> {
  const summary = (await redis.xpending(stream, group)) as [number, ...unknown[]];
  return Number(summary[0]);
}

/** XADDs many entries in pipelined chunks; values may be Buffers (binary junk); returns their ids. */
export async function produce(
  redis: Redis,
  stream: string,
  entries: readonly Record<string, string | Buffer>[],
  chunk = 1000,
): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < entries.length; i += chunk) {
    const pipeline = redis.pipeline();
    for (const fields of entries.slice(i, i + chunk)) pipeline.xadd(stream, '*', ...Object.entries(fields).flat());
    const results = (await pipeline.exec()) ?? [];
    for (const [error, id] of results) {
      if (error) throw error;
      ids.push(String(id));
    }
  }
  return ids;
}

/** Sum of a metric's values in a runtime's registry, over the series whose labels match. */
export async function metricSum(runtime: Runtime, name: string, labels: Record<string, string> = {}): Promise<number> {
  const metric = runtime.services.registry.getSingleMetric(name);
  if (!metric) return 0;
  const { values } = await metric.get();
  return values.filter((v) => Object.entries(labels).every(([k, want]) => v.labels[k] === want)).reduce((sum, v) => sum + v.value, 0);
}

/**
 * Waits until a position-index refresh that BullMQ began after this call has completed (the newest
 * completed job's processedOn): such a refresh has seen every hash written before the call,
 * however long a busy machine takes to run it, where a fixed wait only hopes so.
 */
export async function indexRefreshAfterNow(runtime: Runtime, what: string): Promise<void> {
  const since = Date.now();
  const refreshes = runtime.services.jobs.queue('position-index');
  const client = await refreshes.getBackend().client; // BullMQ's own connection (Queue#client went in BullMQ 6)
  if (!(client instanceof Redis)) throw new Error('indexRefreshAfterNow watches one Redis node, not a cluster');
  // A completed job enters the queue's completed set: that key's change wakes the check.
  await untilKeys(
    client,
    [refreshes.keys.completed!],
    async () => {
      const [newest] = await refreshes.getJobs(['completed'], 0, 0);
      return newest?.processedOn !== undefined && newest.processedOn > since;
    },
    { what },
  );
}
