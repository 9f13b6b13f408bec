import { setTimeout as sleep } from 'node:timers/promises';
import { linear, retryPolicy } from '../engine/retry-policy.js';
import { GroupLostError } from '../engine/commit-loop.js';
import { Delivery, type PreparedBatch } from '../engine/delivery.js';
import { describeError } from '../engine/execute.js';
import type { MessageMeta, StreamTrigger } from '../contract/handler.js';
import type { RootLogger } from '../engine/logger.js';
import { isReady, waitUntilReady, type RedisClient } from '../host/redis.js';
import { classifyRedisError } from '../engine/redis-errors.js';
import { buildPipeline, type SourceDeps, type SourcePipeline } from './pipeline.js';
import { groupCursorKey, StreamReader, type Batch } from './stream-reader.js';
import { fieldsToRecord } from '../../schemas/fields.js';

export interface StreamConsumerDeps extends SourceDeps {
  /** Dedicated to this consumer's blocking XREADGROUP. */
  readonly reader: RedisClient;
  /** Owns a connection dedicated to this consumer's transactions. */
  readonly committerConnection: RedisClient;
  readonly logger: RootLogger;
  /** Whether commits record the group's restart point (single node only: the key sits in another slot). */
  readonly recordsCursor: boolean;
}

/** Why a consumer is not making progress, for /ready. */
export interface ConsumerFault {
  readonly cause: string;
  readonly since: number;
}

/**
 * Consumes one stream for one handler: the loop that ties the reader (what to read next), the
 * pipeline (validate, run the handler) and the commit loop together. One batch in hand at a
 * time (two for gates that never read their own writes: one handled while the previous
 * commits; its commit goes out once that one has settled), so in-flight work is bounded by
 * BATCH_SIZE.
 */
export class StreamConsumer {
  readonly stream: string;
  readonly group: string;
  private stopping = false;
  private consuming = false;
  private loopDone: Promise<void> = Promise.resolve();
  private readonly abort = new AbortController();
  private readonly log: RootLogger;
  private readonly reader: StreamReader;
  private readonly pipeline: SourcePipeline;
  /** Handlers that never read their own writes may handle a batch while the previous one commits. */
  private readonly overlapCommits: boolean;
  /** The commit in flight, if any: at most one, settled before the next one goes out. */
  private inFlight: Promise<void> | undefined;
  /** Entry ids read and not yet settled, for re-creating a lost group without skipping them. */
  private readonly held = new Set<string>();
  private lastProgressAt: number;
  private consecutiveErrors = 0;
  private lastError: string | undefined;
  /** How long the last pass of the read loop took, blocking read included (P2.7's last_loop_ms). */
  lastLoopMs = 0;
  /** Set while commits are being refused; cleared by the next read or commit that succeeds. */
  private commitFailing: ConsumerFault | undefined;

  constructor(private readonly deps: StreamConsumerDeps) {
    const trigger = deps.handler.trigger as StreamTrigger<unknown>;
    this.stream = trigger.stream(deps.handlerConfig);
    this.group = trigger.group(deps.handlerConfig);
    this.lastProgressAt = deps.now();
    this.log = deps.logger.child({ handler: deps.handler.name, stream: this.stream, group: this.group });
    this.overlapCommits = deps.handler.batch?.readsOwnWrites === false;
    this.pipeline = buildPipeline(deps, {
      log: this.log,
      logFields: (meta: MessageMeta) => ({ id: meta.id, plan_id: meta.raw.plan_id, trace_id: meta.raw.trace_id, symbol: meta.raw.symbol }),
      sourceStream: this.stream,
      group: this.group,
      maxDeliveries: deps.config.MAX_DELIVERIES,
      waitForRedis: () => this.waitForRedis(),
      stopping: () => this.stopping,
      abort: this.abort.signal,
      commit: {
        source: {
          stream: this.stream,
          group: this.group,
          consumer: deps.config.CONSUMER_NAME,
          ...(deps.recordsCursor ? { cursorKey: groupCursorKey(this.stream) } : {}),
        },
        pendingIds: (ids) => this.reader.pendingIds(ids),
        onProgress: () => this.committed(),
        onFailure: (failure) => {
          this.commitFailing ??= { cause: `commits refused (${failure.cause}): ${failure.message}`, since: deps.now() };
        },
      },
    });
    this.reader = new StreamReader({
      handler: deps.handler,
      config: deps.config,
      stream: this.stream,
      group: this.group,
      commands: deps.commands,
      reader: deps.reader,
      metrics: deps.metrics,
      log: this.log,
      now: deps.now,
    });
  }

  /** True while reading (not waiting for Redis, not stopped). */
  get isConsuming(): boolean {
    return this.consuming && !this.stopping;
  }

  /** Why this consumer is not making progress, or undefined while it is. */
  fault(heartbeatTimeoutMs: number): ConsumerFault | undefined {
    if (this.stopping) return undefined;
    if (this.commitFailing) return this.commitFailing;
    if (this.consecutiveErrors >= retryPolicy.consumerErrorsBeforeFault)
      return { cause: `failing: ${this.lastError ?? 'unknown error'}`, since: this.lastProgressAt };
    const silent = this.deps.now() - this.lastProgressAt;
    if (silent > heartbeatTimeoutMs) return { cause: `no read or commit for ${Math.round(silent / 1000)} s`, since: this.lastProgressAt };
    return undefined;
  }

  async start(): Promise<void> {
    await this.reader.ensureGroup();
    // Redis answered: once the reader and committer are connected too, this gate consumes, so a
    // runtime that has started is ready at once.
    await this.waitForRedis();
    this.progress();
    if (this.connectionsReady()) this.setConsuming(true);
    this.loopDone = this.loop();
  }

  /** Stops reading, lets the batch in hand finish and commit. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.abort.abort();
    // A read waiting for entries would hold the stop up to BLOCK_MS: it is ended now, empty.
    await this.reader.unblockRead();
    await this.loopDone;
  }

  private progress(): void {
    this.lastProgressAt = this.deps.now();
    this.consecutiveErrors = 0;
  }

  private committed(): void {
    this.progress();
    this.commitFailing = undefined;
  }

  private connectionsReady(): boolean {
    const { commands, reader, committerConnection } = this.deps;
    return isReady(commands) && isReady(reader) && isReady(committerConnection);
  }

  private async waitForRedis(): Promise<void> {
    const { commands, reader, committerConnection, health } = this.deps;
    for (;;) {
      for (const client of [commands, reader, committerConnection]) await waitUntilReady(client, this.abort.signal);
      if (this.abort.signal.aborted || !health.stalled) return;
      await sleep(retryPolicy.stalledPollMs);
    }
  }

  private async loop(): Promise<void> {
    const { config, metrics } = this.deps;
    let drainOwnPending = true;
    let lastReclaim = 0;
    let passStarted: number | undefined;
    while (!this.stopping) {
      const now = performance.now();
      if (passStarted !== undefined) this.lastLoopMs = Math.floor(now - passStarted);
      passStarted = now;
      try {
        const outage = !this.connectionsReady() || this.deps.health.stalled;
        const reclaimDue = this.deps.now() - lastReclaim >= config.CLAIM_INTERVAL_MS;
        // Waiting out an outage, XAUTOCLAIM and a read of '0' (they return our own entries too):
        // never while a commit of ours is in flight.
        if (outage || reclaimDue || drainOwnPending) await this.settleCommit();
        if (outage) {
          this.setConsuming(false);
          await this.waitForRedis();
          drainOwnPending = true;
          continue;
        }
        this.setConsuming(true);
        if (reclaimDue) {
          lastReclaim = this.deps.now();
          for await (const batch of this.reader.reclaim(() => this.stopping)) await this.handle(batch, false);
          await this.reader.removeDepartedConsumers();
        } else if (drainOwnPending) {
          const own = await this.read('0');
          drainOwnPending = own.entries.length > 0;
          if (drainOwnPending) await this.handle(own, false);
          else this.held.clear(); // nothing is pending for us, and nothing else is in hand here
        } else {
          // Read once the commit of the batch in hand has gone out (handle awaits it unless overlapping).
          const batch = await this.read('>');
          if (batch.entries.length > 0) await this.handle(batch, this.overlapCommits);
        }
      } catch (error) {
        // Never re-read our pending entries while a commit of some of them is still in flight.
        const commitError = await this.settleCommit().then(
          () => undefined,
          (e: unknown) => e,
        );
        if (this.stopping) break;
        await this.recover(commitError ?? error);
        drainOwnPending = true;
      }
    }
    // Stopping: the batch in hand is ours; commit it rather than leave it pending.
    try {
      await this.settleCommit();
    } catch (error) {
      this.log.warn({ err: describeError(error) }, 'could not finish the last batch; its entries stay pending for another consumer');
    }
    this.setConsuming(false);
    metrics.consumerUp.set({ handler: this.deps.handler.name }, 0);
  }

  /** After a failed read or commit: re-create a lost group, note the error, pause briefly. */
  private async recover(error: unknown): Promise<void> {
    const classified = error instanceof GroupLostError ? error.failure : classifyRedisError(error);
    this.consecutiveErrors += 1;
    this.lastError = `${classified.cause}: ${classified.message}`;
    if (classified.cause === 'nogroup') {
      try {
        await this.reader.recreateGroup([...this.held]);
        this.held.clear(); // no longer ours: the new group delivers them again
        this.consecutiveErrors = 0;
        return;
      } catch (recreateError) {
        this.log.error({ err: describeError(recreateError) }, 'could not create the consumer group again; retrying');
      }
    } else {
      this.log.warn({ cause: classified.cause, err: classified.message }, 'consumer loop error; re-reading own pending entries');
    }
    await sleep(linear(retryPolicy.consumerPauseStepMs, this.consecutiveErrors, retryPolicy.consumerPauseMaxMs), undefined, {
      signal: this.abort.signal,
    }).catch(() => undefined);
  }

  private setConsuming(value: boolean): void {
    // A clean stop closes the connections too: that is not waiting for Redis.
    if (this.consuming !== value && !this.stopping) this.log.info({ consuming: value }, value ? 'consuming' : 'waiting for redis');
    this.consuming = value;
    this.deps.metrics.consumerUp.set({ handler: this.deps.handler.name }, value ? 1 : 0);
  }

  private async read(id: '0' | '>'): Promise<Batch> {
    const batch = await this.reader.read(id);
    this.progress();
    for (const [entryId] of batch.entries) this.held.add(entryId);
    return batch;
  }

  /** Waits for the commit in flight (a batch's state must see the commits before it); throws its failure. */
  private async settleCommit(): Promise<void> {
    const settling = this.inFlight;
    this.inFlight = undefined;
    await settling;
  }

  /**
   * Makes one Delivery per entry (counting the batch as read), validates and handles them, and
   * sends their commit once the one in flight has settled. `overlap`: returns with the commit in
   * flight, so the next batch is handled while it commits (readsOwnWrites: false).
   */
  private async handle({ entries, readAt, deliveries }: Batch, overlap: boolean): Promise<void> {
    const { handler, metrics } = this.deps;
    metrics.batchSize.observe({ handler: handler.name }, entries.length);
    handler.batch?.onRead?.(this.deps.handlerMetrics, entries.length);
    const batch = entries.map(([id, fieldList]) => {
      const raw = fieldList === null ? {} : fieldsToRecord(fieldList);
      // parseInt stops at the '-': the entry's time in ms.
      return new Delivery({ id, raw, producedAt: Number.parseInt(id, 10) }, fieldList === null ? null : raw, deliveries?.get(id) ?? 1, id);
    });
    const prepared = await this.pipeline.prepare(batch, readAt);
    await this.settleCommit();
    this.inFlight = this.commit(prepared);
    if (overlap)
      this.inFlight.catch(() => undefined); // thrown by the settleCommit that awaits it
    else await this.settleCommit();
  }

  private async commit(batch: PreparedBatch): Promise<void> {
    await this.pipeline.commit(batch);
    // Left pending (stopping mid-retry), an entry is still ours: a lost group must deliver it again.
    for (const delivery of batch.deliveries) if (delivery.outcome.kind !== 'left-pending') this.held.delete(delivery.meta.id);
  }
}
