import { linear, retryPolicy } from '../engine/retry-policy.js';
import { GroupLostError } from '../engine/commit-loop.js';
import { Delivery } from '../engine/delivery.js';
import { describeError } from '../engine/execute.js';
import type { MessageMeta, StreamTrigger } from '../contract/handler.js';
import type { Logger as RootLogger } from 'pino';
import { Cluster } from 'ioredis';
import { isReady, waitUntilReady, type RedisClient } from '../engine/connection.js';
import { classifyRedisError } from '../engine/redis-errors.js';
import { lua } from '../engine/lua.js';
import { SourcePipeline, type ConsumerFault, type SourceDeps } from './pipeline.js';
import { compareStreamIds, fieldsToRecord, idBefore } from '../../schemas/fields.js';

/** XGROUP DELCONSUMER only while the consumer holds nothing (DELCONSUMER drops what it holds). */
const REMOVE_IF_NOTHING_PENDING = lua('remove-if-nothing-pending');

type RawEntry = [id: string, fields: string[] | null];
type PendingRow = [id: string, consumer: string, idleMs: number, deliveries: number];

interface Batch {
  readonly entries: RawEntry[];
  readonly readAt: number; // this process's clock
  /** Delivery counts of reclaimed entries (a plain read delivers each entry once more). */
  readonly deliveries?: Map<string, number>;
}

/** The hash in which commits record where each group of `stream` would start again (see the commit script). */
const groupCursorKey = (stream: string): string => `quantum:gates:cursor:${stream}`;

export interface StreamConsumerDeps extends SourceDeps {
  readonly reader: RedisClient;
  readonly committerConnection: RedisClient;
  /** Whether commits record the group's restart point (single node only: the key sits in another slot). */
  readonly recordsCursor: boolean;
}

/**
 * Consumes one stream for one handler: new, own pending and reclaimed entries, the group's
 * lifecycle, and one batch in hand at a time, committed before the next is read. Every command
 * has its connection's timeout: none holds the loop forever.
 */
export class StreamConsumer {
  readonly stream: string;
  readonly group: string;
  private consuming = false;
  private loopDone: Promise<void> = Promise.resolve();
  /** The reader's CLIENT ID, for CLIENT UNBLOCK (undefined: not yet asked; null: a Cluster, or an ACL refuses CLIENT). */
  private readerId: number | null | undefined;
  private readonly pipeline: SourcePipeline;
  /** The connections a pass needs: commands, the blocking reader, the committer's. */
  private readonly clients: readonly RedisClient[];
  private readonly log: RootLogger;
  /** Entry ids read and not yet settled, for re-creating a lost group without skipping them. */
  private readonly held = new Set<string>();
  private consecutiveErrors = 0;
  private lastError: string | undefined;
  /** How long the last pass of the read loop took, blocking read included (P2.7's last_loop_ms). */
  lastLoopMs = 0;

  constructor(private readonly deps: StreamConsumerDeps) {
    const trigger = deps.handler.trigger as StreamTrigger<unknown>;
    this.stream = trigger.stream(deps.handlerConfig);
    this.group = trigger.group(deps.handlerConfig);
    this.pipeline = new SourcePipeline(deps, {
      bindings: { stream: this.stream, group: this.group },
      logFields: (meta: MessageMeta) => ({ id: meta.id, plan_id: meta.raw.plan_id, trace_id: meta.raw.trace_id, symbol: meta.raw.symbol }),
      sourceStream: this.stream,
      group: this.group,
      maxDeliveries: deps.config.MAX_DELIVERIES,
      waitForRedis: () => this.waitForRedis(),
      commit: {
        source: {
          stream: this.stream,
          group: this.group,
          consumer: deps.config.CONSUMER_NAME,
          ...(deps.recordsCursor ? { cursorKey: groupCursorKey(this.stream) } : {}),
        },
        pendingIds: (ids) => this.pendingIds(ids),
      },
      onCommitted: () => (this.consecutiveErrors = 0),
    });
    this.log = this.pipeline.log;
    this.clients = [deps.commands, deps.reader, deps.committerConnection];
    // A new connection is a new client: ask its id again.
    if (!(deps.reader instanceof Cluster)) deps.reader.on('close', () => (this.readerId = this.readerId === null ? null : undefined));
  }

  get isConsuming(): boolean {
    return this.consuming && !this.pipeline.stopping;
  }

  fault(heartbeatTimeoutMs: number): ConsumerFault | undefined {
    const { stopping, commitFault, lastProgressAt: since } = this.pipeline;
    if (stopping) return undefined;
    if (commitFault) return commitFault;
    if (this.pipeline.inputFault) return this.pipeline.inputFault;
    if (this.consecutiveErrors >= retryPolicy.consumerErrorsBeforeFault)
      return { cause: `failing: ${this.lastError ?? 'unknown error'}`, since };
    const silent = this.deps.clock.now() - since;
    if (silent > heartbeatTimeoutMs) return { cause: `no read or commit for ${Math.round(silent / 1000)} s`, since };
    return undefined;
  }

  async start(): Promise<void> {
    if (await this.createGroup('0')) this.log.info('created consumer group');
    // Once the reader and committer are connected too, a started runtime is ready at once.
    await this.waitForRedis();
    this.pipeline.lastProgressAt = this.deps.clock.now();
    if (this.clients.every(isReady)) this.setConsuming(true);
    this.loopDone = this.loop();
  }

  /** Lets the batch in hand finish and commit. */
  async stop(): Promise<void> {
    this.pipeline.abort.abort();
    // A read waiting for entries would hold the stop up to BLOCK_MS: CLIENT UNBLOCK ends it now, delivering nothing.
    if (typeof this.readerId === 'number') await this.deps.commands.call('CLIENT', 'UNBLOCK', this.readerId).catch(() => undefined);
    await this.loopDone;
  }

  private async waitForRedis(): Promise<void> {
    for (;;) {
      for (const client of this.clients) await waitUntilReady(client, this.pipeline.abort.signal);
      if (this.pipeline.stopping || !this.deps.health.stalled) return;
      await this.pipeline.pause(retryPolicy.stalledPollMs);
    }
  }

  private async loop(): Promise<void> {
    const { config, clock } = this.deps;
    let drainOwnPending = true;
    let lastReclaim = 0;
    let passStarted = clock.now();
    while (!this.pipeline.stopping) {
      const now = clock.now();
      this.lastLoopMs = now - passStarted;
      passStarted = now;
      try {
        if (!this.clients.every(isReady) || this.deps.health.stalled) {
          this.setConsuming(false);
          await this.waitForRedis();
          drainOwnPending = true;
          continue;
        }
        this.setConsuming(true);
        if (now - lastReclaim >= config.CLAIM_INTERVAL_MS) {
          lastReclaim = clock.now();
          for await (const batch of this.reclaim()) await this.handle(batch);
          await this.removeDepartedConsumers();
        } else if (drainOwnPending) {
          const own = await this.read('0');
          drainOwnPending = own.entries.length > 0;
          if (drainOwnPending) await this.handle(own);
          else this.held.clear(); // nothing is pending for us, and nothing else is in hand here
        } else {
          const batch = await this.read('>');
          if (batch.entries.length > 0) await this.handle(batch);
          else await this.pipeline.recheckInput();
        }
      } catch (error) {
        if (this.pipeline.stopping) {
          this.log.warn({ err: describeError(error) }, 'could not finish the last batch; its entries stay pending for another consumer');
          break;
        }
        await this.recover(error);
        drainOwnPending = true;
      }
    }
    this.setConsuming(false);
  }

  /** After a failed read or commit: re-create a lost group, or note the error and pause. */
  private async recover(error: unknown): Promise<void> {
    const classified = error instanceof GroupLostError ? error.failure : classifyRedisError(error);
    this.consecutiveErrors += 1;
    this.lastError = `${classified.cause}: ${classified.message}`;
    if (classified.cause === 'nogroup') {
      try {
        await this.recreateGroup();
        this.held.clear(); // no longer ours: the new group delivers them again
        this.consecutiveErrors = 0;
        return;
      } catch (recreateError) {
        this.log.error({ err: describeError(recreateError) }, 'could not create the consumer group again; retrying');
      }
    } else {
      this.log.warn({ cause: classified.cause, err: classified.message }, 'consumer loop error; re-reading own pending entries');
    }
    await this.pipeline.pause(linear(retryPolicy.consumerPauseStepMs, this.consecutiveErrors, retryPolicy.consumerPauseMaxMs));
  }

  private setConsuming(value: boolean): void {
    // A clean stop closes the connections too: not waiting for Redis.
    if (this.consuming !== value && !this.pipeline.stopping) this.log.info({ consuming: value }, value ? 'consuming' : 'waiting for redis');
    this.consuming = value;
    this.deps.metrics.consumerUp.set({ handler: this.deps.handler.name }, value ? 1 : 0);
  }

  private async read(id: '0' | '>'): Promise<Batch> {
    const { config, reader } = this.deps;
    if (id === '>' && this.readerId === undefined) {
      try {
        this.readerId = reader instanceof Cluster ? null : Number(await reader.call('CLIENT', 'ID'));
      } catch {
        this.readerId = null; // an ACL without CLIENT: a stop waits for the read instead
      }
    }
    const blocking = id === '>' ? ['BLOCK', config.BLOCK_MS] : [];
    const args = ['GROUP', this.group, config.CONSUMER_NAME, 'COUNT', config.BATCH_SIZE, ...blocking, 'STREAMS', this.stream, id];
    const reply = (await reader.call('XREADGROUP', ...args)) as [string, RawEntry[]][] | null;
    const batch = { entries: reply?.[0]?.[1] ?? [], readAt: this.deps.clock.now() };
    this.pipeline.lastProgressAt = batch.readAt;
    this.consecutiveErrors = 0;
    for (const [entryId] of batch.entries) this.held.add(entryId);
    return batch;
  }

  /** Handles a batch, its messages one after another, and commits it (each message, for a commitEach gate). */
  private async handle({ entries, readAt, deliveries }: Batch): Promise<void> {
    const { handler, metrics } = this.deps;
    metrics.batchSize.observe({ handler: handler.name }, entries.length);
    handler.batch?.onRead?.(this.deps.handlerMetrics, entries.length);
    const batch = entries.map(([id, fieldList]) => {
      const raw = fieldList === null ? {} : fieldsToRecord(fieldList);
      // parseInt stops at the '-': the entry's time in ms.
      return new Delivery({ id, raw, producedAt: Number.parseInt(id, 10) }, fieldList === null ? null : raw, deliveries?.get(id) ?? 1, id);
    });
    await this.pipeline.run(batch, readAt);
    // Left pending (stopping mid-retry), an entry is still ours: a lost group must deliver it again.
    for (const delivery of batch) if (delivery.outcome.kind !== 'left-pending') this.held.delete(delivery.meta.id);
  }

  /** Creates the group to start after `start`; false where it exists already (BUSYGROUP). */
  private async createGroup(start: string): Promise<boolean> {
    try {
      await this.deps.commands.xgroup('CREATE', this.stream, this.group, start, 'MKSTREAM');
      return true;
    } catch (error) {
      if (classifyRedisError(error).message.includes('BUSYGROUP')) return false;
      throw error;
    }
  }

  /**
   * Creates a lost group again (FLUSHALL, XGROUP DESTROY) where the last commit recorded, or before
   * the oldest entry still held if earlier: nothing acknowledged is handled again, nothing
   * unacknowledged skipped. A stream that is gone too starts afresh from 0.
   */
  private async recreateGroup(): Promise<void> {
    const { commands, metrics, handler } = this.deps;
    const { stream, group } = this;
    const [exists, recorded] = await Promise.all([commands.exists(stream), commands.hget(groupCursorKey(stream), group)]);
    let start = '0';
    if (exists === 1 && recorded) start = recorded.startsWith('(') ? idBefore(recorded.slice(1)) : recorded;
    const oldestHeld = [...this.held].sort(compareStreamIds)[0];
    if (exists === 1 && oldestHeld !== undefined && compareStreamIds(idBefore(oldestHeld), start) < 0) start = idBefore(oldestHeld);
    if (!(await this.createGroup(start))) return; // another replica was first
    metrics.recreated.inc({ handler: handler.name, what: 'consumer_group' });
    this.log.warn({ start, streamExisted: exists === 1, recorded }, 'consumer group was gone; created it again');
  }

  /** Takes over entries another consumer left pending past CLAIM_IDLE_MS (it died or hung), a page at a time. */
  private async *reclaim(): AsyncGenerator<Batch> {
    const { commands, config, metrics, handler } = this.deps;
    const { stream, group } = this;
    let cursor = '0-0';
    do {
      const args = [stream, group, config.CONSUMER_NAME, config.CLAIM_IDLE_MS, cursor, 'COUNT', config.BATCH_SIZE];
      const reply = (await commands.call('XAUTOCLAIM', ...args)) as [string, RawEntry[], string[]?];
      cursor = reply[0];
      const entries = reply[1].filter((entry) => entry[1] !== null);
      if (entries.length === 0) continue;
      metrics.reclaimed.inc({ handler: handler.name }, entries.length);
      this.log.info({ count: entries.length }, 'reclaimed pending entries from idle consumers');
      // Delivery counts from our pending list (the page is in id order).
      const rows = await this.xpending(entries[0]![0], entries[entries.length - 1]![0], entries.length);
      yield { entries, readAt: this.deps.clock.now(), deliveries: new Map(rows.map(([id, , , deliveries]) => [id, deliveries])) };
    } while (cursor !== '0-0' && !this.pipeline.stopping);
  }

  /**
   * Removes consumers idle past DEPARTED_CONSUMER_IDLE_MS (every restart names a new one; a live
   * one re-reads every BLOCK_MS) with nothing pending, in one script, so a consumer that took an
   * entry in between keeps it.
   */
  private async removeDepartedConsumers(): Promise<void> {
    const { commands, config, metrics, handler } = this.deps;
    const { stream, group } = this;
    if (config.DEPARTED_CONSUMER_IDLE_MS === 0) return;
    const rows = (await commands.call('XINFO', 'CONSUMERS', stream, group)) as unknown[][];
    for (const row of rows) {
      const { name = '', pending, idle } = fieldsToRecord(row.map(String));
      if (name === config.CONSUMER_NAME || Number(pending) !== 0 || Number(idle) < config.DEPARTED_CONSUMER_IDLE_MS) continue;
      const removed = await commands.eval(REMOVE_IF_NOTHING_PENDING, 1, stream, group, name);
      if (removed === 1) {
        metrics.departedRemoved.inc({ handler: handler.name });
        this.log.info({ consumer: name, idleMs: Number(idle) }, 'removed a departed consumer with nothing pending');
      }
    }
  }

  private async pendingIds(ids: readonly string[]): Promise<Set<string>> {
    if (ids.length === 0) return new Set();
    const sorted = [...ids].sort(compareStreamIds);
    // The range may also hold entries of ours outside the batch (a reclaim's).
    const rows = await this.xpending(sorted[0]!, sorted[sorted.length - 1]!, ids.length + 4 * this.deps.config.BATCH_SIZE + 10);
    const wanted = new Set(ids);
    return new Set(rows.map((row) => row[0]).filter((id) => wanted.has(id)));
  }

  private async xpending(first: string, last: string, count: number): Promise<PendingRow[]> {
    const { commands, config } = this.deps;
    return (await commands.call('XPENDING', this.stream, this.group, first, last, count, config.CONSUMER_NAME)) as PendingRow[];
  }
}
