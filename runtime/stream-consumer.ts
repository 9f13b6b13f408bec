import { setTimeout as sleep } from 'node:timers/promises';
import { Cluster } from 'ioredis';
import type { z } from 'zod';
import type { CommitItem, CommitReport, Committer } from './commit.js';
import type { RuntimeConfig } from './config.js';
import { deadLetterFields } from './dead-letter.js';
import type { ScheduledJob } from './effects.js';
import { describeError, executeBatch, type ExecutionEnv, type Outcome, type ValidMessage } from './execute.js';
import type { AnyHandler, StreamTrigger } from './handler.js';
import { LazyChildLogger, type RootLogger } from './logger.js';
import { applyMetricCallsCoalesced, type RuntimeMetrics } from './metrics.js';
import { isReady, waitUntilReady, type RedisClient } from './redis.js';
import type { RedisReader } from './redis-reader.js';
import { compareStreamIds, fieldsToRecord } from '../schemas/fields.js';

type RawEntry = [id: string, fields: string[] | null];

/** Entries as one read returned them, and when (this process's clock) they became ours. */
interface Batch {
  readonly entries: RawEntry[];
  readonly readAt: number;
  /** The handler's batch state, when it was read together with the entries. */
  readonly state?: Promise<unknown>;
}

export interface JobSink {
  add(jobs: readonly ScheduledJob[]): Promise<void>;
}

export interface StreamConsumerDeps {
  readonly handler: AnyHandler;
  readonly handlerConfig: unknown;
  readonly handlerMetrics: object;
  readonly config: RuntimeConfig;
  /** Shared, auto-pipelined: handler reads, reclaim, pending checks. */
  readonly commands: RedisClient;
  /** Dedicated to this consumer's blocking XREADGROUP. */
  readonly reader: RedisClient;
  /** Owns a connection dedicated to this consumer's transactions. */
  readonly committer: Committer;
  readonly committerConnection: RedisClient;
  readonly jobs: JobSink;
  readonly metrics: RuntimeMetrics;
  readonly logger: RootLogger;
  readonly now: () => number;
}

const MAX_CONFLICT_ROUNDS = 100;

/**
 * Consumes one stream for one handler: reads batches with XREADGROUP, first re-reading its own
 * pending entries after any (re)connect, reclaims entries idle with dead consumers, runs the
 * handler and commits outputs with the acks. One batch at a time, so in-flight work is bounded
 * by BATCH_SIZE.
 */
export class StreamConsumer {
  readonly stream: string;
  readonly group: string;
  private stopping = false;
  private consuming = false;
  private loopDone: Promise<void> = Promise.resolve();
  private readonly abort = new AbortController();
  private readonly log: RootLogger;
  private readonly env: ExecutionEnv<unknown, object>;
  /** Handlers that never read their own writes may handle a batch while the previous one commits. */
  private readonly overlapCommits: boolean;
  /** Whether a '>' read carries the batch state with it (see loadStateBehindRead). */
  private readonly stateRidesWithRead: boolean;
  /** The commit in flight, if any: at most one, and commits go out in batch order. */
  private committing: Promise<void> = Promise.resolve();

  constructor(private readonly deps: StreamConsumerDeps) {
    const trigger = deps.handler.trigger as StreamTrigger<unknown>;
    this.stream = trigger.stream(deps.handlerConfig);
    this.group = trigger.group(deps.handlerConfig);
    this.log = deps.logger.child({ handler: deps.handler.name, stream: this.stream, group: this.group });
    this.overlapCommits = deps.handler.readsOwnWrites === false;
    // Reading state behind the read needs one connection for both, in order: not on a cluster,
    // and only where the state never has to include this consumer's previous commit.
    this.stateRidesWithRead = this.overlapCommits && deps.handler.loadBatchState !== undefined && !(deps.reader instanceof Cluster);
    this.env = {
      redis: deps.commands as unknown as RedisReader,
      config: deps.handlerConfig,
      metrics: deps.handlerMetrics,
      now: deps.now,
      logger: (meta) => new LazyChildLogger(this.log, { id: meta.id, plan_id: meta.raw.plan_id, trace_id: meta.raw.trace_id, symbol: meta.raw.symbol }),
      redisReady: () => isReady(deps.commands),
      waitForRedis: () => waitUntilReady(deps.commands, this.abort.signal),
      stopping: () => this.stopping,
      sleep: (ms) => sleep(ms).then(() => undefined),
      onRetry: (count) => deps.metrics.retries.inc({ handler: deps.handler.name }, count),
    };
  }

  /** True while reading (not waiting for Redis, not stopped). */
  get isConsuming(): boolean {
    return this.consuming && !this.stopping;
  }

  async start(): Promise<void> {
    await this.ensureGroup();
    this.loopDone = this.loop();
  }

  /** Stops reading, lets the batch in hand finish and commit. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.abort.abort();
    await this.loopDone;
  }

  private async ensureGroup(): Promise<void> {
    try {
      await this.deps.commands.xgroup('CREATE', this.stream, this.group, '0', 'MKSTREAM');
      this.log.info('created consumer group');
    } catch (error) {
      if (!describeError(error).includes('BUSYGROUP')) throw error;
    }
  }

  private async loop(): Promise<void> {
    const { config, commands, reader, committerConnection, metrics } = this.deps;
    const labels = { handler: this.deps.handler.name };
    let drainOwnPending = true;
    let lastReclaim = 0;
    // The next batch is read while the current one is handled and committed, so the read's
    // round trip overlaps the work. Its entries are ours (pending) from the moment Redis answers.
    let prefetch: Promise<Batch> | undefined;
    const startPrefetch = () => {
      prefetch = this.read('>');
      prefetch.catch(() => undefined); // awaited below; a failure there sends us back to our own pending entries
    };
    /** Handles what the prefetch brought, so nothing else (a reclaim) can take the same entries twice. */
    const settlePrefetch = async () => {
      await this.settleCommit();
      if (!prefetch) return;
      const batch = await prefetch;
      prefetch = undefined;
      if (batch.entries.length > 0) await this.processBatch(batch, new Map());
    };
    while (!this.stopping) {
      try {
        if (!isReady(commands) || !isReady(reader) || !isReady(committerConnection)) {
          this.setConsuming(false);
          prefetch = undefined; // its entries, if Redis delivered them, are in our pending list: drained below
          await this.settleCommit();
          for (const client of [commands, reader, committerConnection]) await waitUntilReady(client, this.abort.signal);
          drainOwnPending = true;
          continue;
        }
        this.setConsuming(true);
        if (this.deps.now() - lastReclaim >= config.CLAIM_INTERVAL_MS) {
          // XAUTOCLAIM also returns our own idle entries: never while a read of ours is in hand.
          await settlePrefetch();
          lastReclaim = this.deps.now();
          await this.reclaim();
          continue;
        }
        if (drainOwnPending) {
          await settlePrefetch();
          const own = await this.read('0');
          if (own.entries.length === 0) drainOwnPending = false;
          else await this.processBatch(own, new Map());
          continue;
        }
        const batch = prefetch ? await prefetch : await this.read('>');
        prefetch = undefined;
        if (batch.entries.length === 0) continue;
        startPrefetch();
        if (this.overlapCommits) {
          // Handle this batch while the previous one commits; commit it once that one is done.
          const prepared = await this.prepare(batch, new Map());
          await this.settleCommit();
          this.committing = this.commitPrepared(prepared);
          this.committing.catch(() => undefined); // awaited by the next settleCommit
        } else {
          await this.processBatch(batch, new Map());
        }
      } catch (error) {
        prefetch = undefined;
        // Never re-read our pending entries while a commit of some of them is still in flight.
        await this.settleCommit().catch((commitError: unknown) => this.log.warn({ err: describeError(commitError) }, 'commit in flight failed'));
        if (this.stopping) break;
        this.log.warn({ err: describeError(error) }, 'consumer loop error; retrying');
        drainOwnPending = true;
        await sleep(200);
      }
    }
    // Stopping: what the last read brought is ours; commit it rather than leave it pending.
    try {
      await settlePrefetch();
      await this.settleCommit();
    } catch (error) {
      this.log.warn({ err: describeError(error) }, 'could not finish the last batch; its entries stay pending for another consumer');
    }
    this.setConsuming(false);
    metrics.consumerUp.set(labels, 0);
  }

  private setConsuming(value: boolean): void {
    if (this.consuming !== value) this.log.info({ consuming: value }, value ? 'consuming' : 'waiting for redis');
    this.consuming = value;
    this.deps.metrics.consumerUp.set({ handler: this.deps.handler.name }, value ? 1 : 0);
  }

  private async read(id: '0' | '>'): Promise<Batch> {
    const { config, reader } = this.deps;
    const args: (string | number)[] = ['GROUP', this.group, config.CONSUMER_NAME, 'COUNT', config.BATCH_SIZE];
    if (id === '>') args.push('BLOCK', config.BLOCK_MS);
    args.push('STREAMS', this.stream, id);
    const replied = reader.call('XREADGROUP', ...args) as Promise<[string, RawEntry[]][] | null>;
    const state = id === '>' && this.stateRidesWithRead ? this.loadStateBehindRead() : undefined;
    const reply = await replied;
    const entries = reply?.[0]?.[1] ?? [];
    return { entries, readAt: this.deps.now(), ...(state && entries.length > 0 ? { state } : {}) };
  }

  /**
   * Loads the batch state with its first command sent on the reader connection right behind the
   * XREADGROUP: Redis runs it the moment the read returns, so the state is read just after the
   * entries were delivered and arrives with them, one round trip saved per batch. Commands the
   * loader sends after its first await go to the shared connection (the reader may by then be
   * blocked in the next read).
   */
  private loadStateBehindRead(): Promise<unknown> {
    const { handler, handlerConfig, reader, now } = this.deps;
    let behindRead = true;
    const shared = this.env.redis;
    const routed = new Proxy(shared, {
      get(target, property) {
        const source = (behindRead ? reader : target) as unknown as Record<PropertyKey, unknown>;
        const value = source[property];
        return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(source) : value;
      },
    });
    const state = (async () => handler.loadBatchState?.(routed, handlerConfig, now()))();
    behindRead = false;
    state.catch(() => undefined); // awaited with the batch; executeBatch loads afresh if it failed
    return state;
  }

  /** Takes over entries another consumer left pending past CLAIM_IDLE_MS (it died or hung). */
  private async reclaim(): Promise<void> {
    const { commands, config, metrics } = this.deps;
    let cursor = '0-0';
    do {
      const reply = (await commands.call(
        'XAUTOCLAIM',
        this.stream,
        this.group,
        config.CONSUMER_NAME,
        config.CLAIM_IDLE_MS,
        cursor,
        'COUNT',
        config.BATCH_SIZE,
      )) as [string, RawEntry[], string[]?];
      cursor = reply[0];
      const entries = reply[1].filter((entry) => entry[1] !== null);
      if (entries.length === 0) continue;
      metrics.reclaimed.inc({ handler: this.deps.handler.name }, entries.length);
      this.log.info({ count: entries.length }, 'reclaimed pending entries from idle consumers');
      await this.processBatch({ entries, readAt: this.deps.now() }, await this.deliveryCounts(entries));
    } while (cursor !== '0-0' && !this.stopping);
  }

  private async deliveryCounts(entries: RawEntry[]): Promise<Map<string, number>> {
    const first = entries[0]![0];
    const last = entries[entries.length - 1]![0];
    const rows = (await this.deps.commands.call(
      'XPENDING',
      this.stream,
      this.group,
      first,
      last,
      entries.length,
      this.deps.config.CONSUMER_NAME,
    )) as [string, string, number, number][];
    return new Map(rows.map(([id, , , deliveries]) => [id, deliveries]));
  }

  /** Waits for the commit in flight (a batch's state must see the commits before it). */
  private async settleCommit(): Promise<void> {
    const inFlight = this.committing;
    this.committing = Promise.resolve();
    await inFlight;
  }

  private async processBatch(batch: Batch, deliveries: Map<string, number>): Promise<void> {
    await this.settleCommit();
    await this.commitPrepared(await this.prepare(batch, deliveries));
  }

  /** Validates a batch and runs the handler over it: one commit item per entry. */
  private async prepare({ entries, readAt, state }: Batch, deliveries: Map<string, number>): Promise<PreparedBatch> {
    const { handler, config, metrics } = this.deps;
    const started = performance.now();
    metrics.batchSize.observe({ handler: handler.name }, entries.length);
    handler.onBatch?.(this.deps.handlerMetrics, entries.length);

    // Each entry ends as exactly one commit item: an outcome of the handler, or a dead letter.
    const items: PreparedItem[] = [];
    const valid: ValidMessage[] = [];
    const validSlots: number[] = [];
    for (const [id, fieldList] of entries) {
      if (fieldList === null) {
        items.push({ entryId: id, outcome: { kind: 'skipped' } });
        continue;
      }
      const raw = fieldsToRecord(fieldList);
      const meta = { source: this.stream, id, raw, producedAt: Number.parseInt(id, 10), attempt: 1 }; // parseInt stops at the '-'
      const delivered = deliveries.get(id) ?? 1;
      if (delivered > config.MAX_DELIVERIES) {
        items.push(this.deadLetterItem(meta, 'too_many_deliveries', `delivered ${delivered} times (MAX_DELIVERIES=${config.MAX_DELIVERIES})`, 0));
        continue;
      }
      const parsed = handler.input.safeParse(raw);
      if (!parsed.success) {
        items.push(this.deadLetterItem(meta, 'invalid_input', formatIssues(parsed.error), 0));
        continue;
      }
      validSlots.push(items.length);
      valid.push({ meta, message: parsed.data });
      items.push({ entryId: id, outcome: { kind: 'skipped' } });
    }
    const outcomes = await executeBatch(handler, this.env, valid, state);
    outcomes.forEach((outcome, i) => {
      items[validSlots[i]!] = this.itemFor(valid[i]!, outcome);
    });
    return { items, valid, validSlots, readAt, started };
  }

  /** Commits a prepared batch; messages whose guards conflicted run again on fresh data. */
  private async commitPrepared({ items, valid, validSlots, readAt, started }: PreparedBatch): Promise<void> {
    const { handler, metrics } = this.deps;
    let roundItems = items.map((_, i) => i);
    for (let round = 0; ; round++) {
      const conflicted = await this.commit(roundItems.map((i) => items[i]!), roundItems, readAt);
      if (conflicted.length === 0) break;
      metrics.conflicts.inc({ handler: handler.name }, conflicted.length);
      const pending = conflicted.map((slot) => validSlots.indexOf(slot)).filter((i) => i >= 0);
      if (pending.length === 0) break;
      if (round >= MAX_CONFLICT_ROUNDS) {
        this.log.error({ count: pending.length }, 'messages still conflicting; leaving them pending for redelivery');
        break;
      }
      const outcomes = await executeBatch(handler, this.env, pending.map((i) => valid[i]!));
      pending.forEach((validIndex, k) => {
        items[validSlots[validIndex]!] = this.itemFor(valid[validIndex]!, outcomes[k]!);
      });
      roundItems = pending.map((i) => validSlots[i]!);
    }
    metrics.batchSeconds.observe({ handler: handler.name }, (performance.now() - started) / 1000);
  }

  private itemFor(message: ValidMessage, outcome: Outcome): PreparedItem {
    switch (outcome.kind) {
      case 'commit':
        return { entryId: message.meta.id, recorder: outcome.recorder, outcome: { kind: outcome.via === 'handled' ? 'handled' : 'fallback' } };
      case 'dead-letter':
        return this.deadLetterItem(message.meta, outcome.reason, outcome.detail, outcome.attempts);
      case 'leave-pending':
        return { outcome: { kind: 'left-pending' } };
    }
  }

  private deadLetterItem(
    meta: ValidMessage['meta'],
    reason: Parameters<typeof deadLetterFields>[0]['reason'],
    detail: string,
    attempts: number,
  ): PreparedItem {
    const fields = deadLetterFields({
      handler: this.deps.handler.name,
      sourceStream: this.stream,
      sourceId: meta.id,
      group: this.group,
      reason,
      detail,
      attempts,
      raw: meta.raw,
      at: this.deps.now(),
    });
    return {
      entryId: meta.id,
      extraEmits: [{ stream: this.deps.config.DLQ_STREAM, fields, maxLen: this.deps.config.DLQ_MAXLEN }],
      outcome: { kind: 'dead-letter', reason },
    };
  }

  /**
   * Commits, surviving a lost connection: the transaction either applied whole or not at all, and
   * the stream's pending list says which (an applied commit acknowledged its entries). Returns
   * the slots whose guards conflicted.
   */
  private async commit(batch: PreparedItem[], slots: number[], readAt: number): Promise<number[]> {
    const { committer, committerConnection, metrics, handler, config } = this.deps;
    let todo = batch.map((_, i) => i).filter((i) => batch[i]!.outcome.kind !== 'left-pending');
    const source = { stream: this.stream, group: this.group, consumer: config.CONSUMER_NAME };
    // Another consumer may reclaim entries idle past CLAIM_IDLE_MS. A batch held that long (an
    // outage, a stall) is committed only for the entries still ours; a fresh batch cannot have
    // been claimed, so the fast path pays nothing for this check. On one node the commit checks
    // again, atomically with its writes; this check is what a cluster commit relies on.
    if (this.deps.now() - readAt > config.CLAIM_IDLE_MS / 2) {
      const owned = await this.pendingIds(todo.map((i) => batch[i]!.entryId).filter((id): id is string => id !== undefined));
      const lost = todo.filter((i) => !owned.has(batch[i]!.entryId!));
      if (lost.length > 0) {
        metrics.commitFailures.inc({ handler: handler.name, kind: 'lost_ownership' }, lost.length);
        this.log.warn({ count: lost.length }, 'entries were reclaimed by another consumer while held; leaving them to it');
        todo = todo.filter((i) => owned.has(batch[i]!.entryId!));
      }
    }
    for (;;) {
      let report: CommitReport;
      try {
        report = await committer.commit(source, todo.map((i) => batch[i]!));
      } catch (error) {
        metrics.commitFailures.inc({ handler: handler.name, kind: 'connection' });
        this.log.warn({ err: describeError(error), count: todo.length }, 'commit failed; checking what landed');
        // Entries no longer pending for this consumer were committed (the transaction acked them)
        // or were claimed by another consumer, which will finish them: either way not ours to redo.
        await waitUntilReady(committerConnection);
        await waitUntilReady(this.deps.commands);
        const stillPending = await this.pendingIds(todo.map((i) => batch[i]!.entryId).filter((id): id is string => id !== undefined));
        const landed = todo.filter((i) => !stillPending.has(batch[i]!.entryId!));
        this.finish(landed.map((i) => batch[i]!), []);
        todo = todo.filter((i) => stillPending.has(batch[i]!.entryId!));
        if (todo.length === 0) return [];
        continue;
      }
      if (report.lost.length > 0) {
        metrics.commitFailures.inc({ handler: handler.name, kind: 'lost_ownership' }, report.lost.length);
        this.log.warn({ count: report.lost.length }, 'entries were reclaimed by another consumer while held; their outputs were not written, leaving them to it');
      }
      this.finishSuperseded(report.superseded.map((k) => batch[todo[k]!]!));
      const committed = report.committed.map((k) => todo[k]!);
      this.finish(
        committed.map((i) => batch[i]!),
        report.effectFailures.map((f) => ({ ...f, item: todo[f.item] ?? -1 })),
        batch,
      );
      return report.conflicted.map((k) => slots[todo[k]!]!);
    }
  }

  /** Which of `ids` are pending for this consumer (delivered to it, not acknowledged). */
  private async pendingIds(ids: string[]): Promise<Set<string>> {
    if (ids.length === 0) return new Set();
    const sorted = [...ids].sort(compareStreamIds);
    const rows = (await this.deps.commands.call(
      'XPENDING',
      this.stream,
      this.group,
      sorted[0]!,
      sorted[sorted.length - 1]!,
      // Our pending list also holds the prefetched batch and the one being handled, which may fall inside the range.
      ids.length + 3 * this.deps.config.BATCH_SIZE + 10,
      this.deps.config.CONSUMER_NAME,
    )) as [string, string, number, number][];
    const wanted = new Set(ids);
    return new Set(rows.map((row) => row[0]).filter((id) => wanted.has(id)));
  }

  /**
   * Messages acknowledged without their effects because a later one had already been applied
   * (onlyIfNewer): only what their onSkip hook records counts, not the handler's other updates.
   */
  private finishSuperseded(items: readonly PreparedItem[]): void {
    if (items.length === 0) return;
    applyMetricCallsCoalesced(items.flatMap((item) => (item.recorder ? [item.recorder.skippedMetricCalls()] : [])));
    this.deps.metrics.messages.inc({ handler: this.deps.handler.name, outcome: 'superseded' }, items.length);
  }

  /** After a commit: metrics, failed-effect hooks and dead letters, then the scheduled jobs. */
  private finish(
    committed: (PreparedItem)[],
    effectFailures: { item: number; effect: unknown; error: Error }[],
    batch: (PreparedItem)[] = [],
  ): void {
    const { metrics, handler } = this.deps;
    // Failure hooks first: they may queue metric updates that the apply loop below then applies.
    for (const failure of effectFailures) {
      metrics.commitFailures.inc({ handler: handler.name, kind: 'effect' });
      const effect = failure.effect as { onFail?: () => void } | undefined;
      effect?.onFail?.();
      const item = batch[failure.item];
      this.log.error({ err: failure.error.message, entry: item?.entryId, effect }, 'an effect failed inside a committed transaction');
    }
    const jobs: ScheduledJob[] = [];
    const outcomes = new Map<string, number>();
    const deadLetters = new Map<string, number>();
    const metricCalls = [];
    for (const item of committed) {
      if (item.recorder) {
        metricCalls.push(item.recorder.metricCalls);
        jobs.push(...item.recorder.jobs);
      }
      const outcome = item.outcome;
      outcomes.set(outcome.kind, (outcomes.get(outcome.kind) ?? 0) + 1);
      if (outcome.kind === 'dead-letter') deadLetters.set(outcome.reason, (deadLetters.get(outcome.reason) ?? 0) + 1);
    }
    applyMetricCallsCoalesced(metricCalls);
    for (const [outcome, count] of outcomes) metrics.messages.inc({ handler: handler.name, outcome }, count);
    for (const [reason, count] of deadLetters) metrics.deadLetters.inc({ handler: handler.name, reason }, count);
    if (jobs.length > 0) {
      this.deps.jobs.add(jobs).catch((error: unknown) => this.log.error({ err: describeError(error), jobs: jobs.length }, 'could not schedule jobs'));
    }
  }
}

type PreparedItem = CommitItem & { outcome: OutcomeLabel };

interface PreparedBatch {
  readonly items: PreparedItem[];
  readonly valid: ValidMessage[];
  /** Where each valid message's item sits in `items`. */
  readonly validSlots: number[];
  readonly readAt: number;
  readonly started: number;
}

type OutcomeLabel =
  | { kind: 'handled' | 'fallback' | 'skipped' | 'left-pending' }
  | { kind: 'dead-letter'; reason: Parameters<typeof deadLetterFields>[0]['reason'] };

export function formatIssues(error: z.ZodError): string {
  return JSON.stringify(error.issues.map((issue) => ({ path: issue.path.join('.'), code: issue.code, message: issue.message })));
}
