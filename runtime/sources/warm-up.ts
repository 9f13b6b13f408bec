import { setImmediate as nextTurn } from 'node:timers/promises';
import { Registry } from 'prom-client';
import { TransactionCommitter } from '../engine/commit.js';
import type { CommitChain } from '../engine/commit-loop.js';
import type { RootLogger } from '../engine/logger.js';
import { promMetricFactory, runtimeMetrics } from '../engine/metrics.js';
import type { AnyHandler, StreamTrigger } from '../contract/handler.js';
import type { WarmUpSample } from '../contract/warm-up.js';
import type { RuntimeConfig } from '../host/config.js';
import { DryRedis } from './dry-redis.js';
import { entryLogFields, prepareEntries, type EntryBatchSource } from './entry-batch.js';
import { buildPipeline } from './pipeline.js';
import type { RawEntry } from './stream-reader.js';
import { commitOrderKey, groupCursorKey } from './stream-reader.js';

/** A hosted gate as the warm-up takes it: its declaration and its parsed config. */
export interface WarmUpGate {
  readonly handler: AnyHandler;
  readonly config: unknown;
}

export interface WarmUpOptions {
  readonly gates: readonly WarmUpGate[];
  readonly config: RuntimeConfig;
  /** The process's logger: the warm-up's own gates log below it at level silent. */
  readonly logger: RootLogger;
  readonly now: () => number;
  /** Batches go on until this much time has passed (every sampled gate runs one batch at least). */
  readonly budgetMs: number;
}

export interface WarmUpReport {
  /** The gates that ran their sample, and the messages they handled in all. */
  readonly gates: readonly string[];
  readonly messages: number;
  /** Of those, the ones whose commit (built, not sent) answered applied: what a real batch's would. */
  readonly committed: number;
  readonly batches: number;
  readonly ms: number;
  /** Why a gate's warm-up stopped early (a batch that threw): its name and the error. */
  readonly stopped: readonly string[];
}

/**
 * Entries a warm-up batch holds at most: enough for the per-message loops to run as in a real
 * batch, few enough that a batch (the first ones run in V8's interpreter, ~0.2 ms a message, more
 * on a busy machine) overshoots the budget by little and /ready is answered between them.
 */
const WARM_UP_BATCH = 100;

/** The consumer name the warm-up's commits are built for (none is sent). */
const CONSUMER = 'warm-up';

/**
 * Runs each stream gate's declared sample traffic (WarmUpSample) through the code a real batch
 * runs (entries to deliveries, validation, the handler's ctx and its reads, idempotency, the
 * commit loop building the batch script and encoding it, settlement) for `budgetMs`, so that V8
 * has compiled it before the gate reads a backlog: a drain right after a start otherwise runs in
 * the interpreter for its first seconds.
 *
 * Nothing it does can be seen: each gate runs on a pipeline of its own over a dry client (reads
 * from the sample, nothing sent: dry-redis.ts), with metrics in a registry of its own that no
 * scrape reads, a logger at level silent, and jobs dropped. It never retries (a failure drops the
 * batch), and yields to the event loop between batches so the HTTP server answers /ready meanwhile.
 */
export async function warmUp(options: WarmUpOptions): Promise<WarmUpReport> {
  const started = performance.now();
  const runs = options.gates.flatMap((gate) => {
    const sample = gate.handler.trigger.kind === 'stream' ? gate.handler.warmUp?.(gate.config, options.now()) : undefined;
    return sample === undefined ? [] : [new SampleRun(gate, sample, options)];
  });
  let batches = 0;
  const stopped: string[] = [];
  let live = runs;
  while (live.length > 0) {
    for (const run of live) {
      try {
        await run.batch();
        batches += 1;
      } catch (error) {
        run.failed = true;
        stopped.push(`${run.name}: ${error instanceof Error ? error.message : String(error)}`);
      }
    }
    live = live.filter((run) => !run.failed);
    await nextTurn();
    if (performance.now() - started >= options.budgetMs) break;
  }
  return {
    gates: runs.map((run) => run.name),
    messages: runs.reduce((sum, run) => sum + run.messages, 0),
    committed: runs.reduce((sum, run) => sum + run.committed, 0),
    batches,
    ms: Math.round(performance.now() - started),
    stopped,
  };
}

/** One gate's sample traffic on a pipeline of its own, a batch at a time. */
class SampleRun {
  readonly name: string;
  messages = 0;
  committed = 0;
  failed = false;
  private readonly source: EntryBatchSource;
  private readonly commitPipeline: (batch: Awaited<ReturnType<typeof prepareEntries>>, chain?: CommitChain) => Promise<boolean>;
  private readonly batchSize: number;
  private readonly orderKey: string | undefined;
  private previous: { readonly token: string; readonly settled: Promise<unknown> } | undefined;
  private next = 0;

  constructor(
    gate: WarmUpGate,
    private readonly sample: WarmUpSample,
    private readonly options: WarmUpOptions,
  ) {
    const { handler } = gate;
    const { config, now } = options;
    this.name = handler.name;
    const trigger = handler.trigger as StreamTrigger<unknown>;
    const stream = trigger.stream(gate.config);
    const group = trigger.group(gate.config);
    const client = new DryRedis(sample.redis ?? {}).asClient();
    // Metrics of the same names as the live ones, in a registry nothing reads.
    const registry = new Registry();
    const handlerMetrics = handler.metrics(promMetricFactory(registry), gate.config) as object;
    const metrics = runtimeMetrics(registry, { version: 'warm-up', commit: 'warm-up' });
    const log = options.logger.child({ handler: handler.name, warmUp: true }, { level: 'silent' });
    const pipeline = buildPipeline(
      {
        handler,
        handlerConfig: gate.config,
        handlerMetrics,
        config,
        commands: client,
        committer: new TransactionCommitter(client, config.STREAM_MAXLEN),
        jobs: { add: () => Promise.resolve() },
        metrics,
        now,
        health: { stalled: false, noteWriteRefused: () => undefined, noteWriteAccepted: () => undefined },
      },
      {
        log,
        logFields: entryLogFields,
        sourceStream: stream,
        group,
        maxDeliveries: config.MAX_DELIVERIES,
        waitForRedis: () => Promise.resolve(),
        // Never retry: a failed handler or commit drops its warm-up batch rather than wait.
        stopping: () => true,
        abort: new AbortController().signal,
        commit: {
          source: { stream, group, consumer: CONSUMER, cursorKey: groupCursorKey(stream) },
          pendingIds: (ids) => Promise.resolve(new Set(ids)),
          onProgress: () => undefined,
          onFailure: () => undefined,
        },
      },
    );
    this.source = { handler, handlerMetrics, metrics, pipeline };
    this.commitPipeline = (batch, chain) => pipeline.commit(batch, chain);
    this.batchSize = Math.min(config.BATCH_SIZE, WARM_UP_BATCH);
    // As the consumer chains the commits of a gate that never reads its own writes.
    this.orderKey = handler.batch?.readsOwnWrites === false ? commitOrderKey(stream, group, CONSUMER) : undefined;
  }

  /** One batch of sample entries (BATCH_SIZE, at most WARM_UP_BATCH), with ids of now, prepared and committed. */
  async batch(): Promise<void> {
    const at = this.options.now();
    const entries: RawEntry[] = [];
    for (let i = 0; i < this.batchSize; i++) {
      const n = this.next++;
      entries.push([`${at}-${n}`, Object.entries(this.sample.entry(n)).flat()]);
    }
    const prepared = await prepareEntries(this.source, { entries, readAt: this.options.now() });
    const token = `${CONSUMER}:${this.next}`;
    const chain: CommitChain | undefined =
      this.orderKey === undefined ? undefined : { key: this.orderKey, token, ...(this.previous ? { ahead: this.previous } : {}) };
    const settled = this.commitPipeline(prepared, chain);
    this.previous = { token, settled };
    await settled;
    this.messages += entries.length;
    for (const delivery of prepared.deliveries) if (delivery.answer === 'committed') this.committed += 1;
  }
}
