import { Cluster, type Redis } from 'ioredis';
import type { RuntimeConfig } from '../host/config.js';
import type { AnyHandler } from '../contract/handler.js';
import type { RootLogger } from '../engine/logger.js';
import type { RuntimeMetrics } from '../engine/metrics.js';
import type { RedisClient } from '../host/redis.js';
import { classifyRedisError } from '../engine/redis-errors.js';
import type { RedisReader } from '../contract/redis-reader.js';
import { compareStreamIds } from '../../schemas/fields.js';
import { lua } from '../engine/lua.js';

/** XGROUP DELCONSUMER only while the consumer holds nothing (DELCONSUMER drops what it holds). */
const REMOVE_IF_NOTHING_PENDING = lua('remove-if-nothing-pending');

export type RawEntry = [id: string, fields: string[] | null];

/** Entries as one read returned them, and when (this process's clock) they became ours. */
export interface Batch {
  readonly entries: RawEntry[];
  readonly readAt: number;
  /** The handler's batch state, when it was read together with the entries. */
  readonly state?: Promise<unknown>;
  /** Delivery counts of reclaimed entries (a plain read delivers each entry once more). */
  readonly deliveries?: Map<string, number>;
}

/** The hash in which commits record where each group of `stream` would start again (see the commit script). */
export function groupCursorKey(stream: string): string {
  return `quantum:gates:cursor:${stream}`;
}

/** The stream id just before `id` ("ms-seq"), for starting a group so that `id` is delivered. */
export function idBefore(id: string): string {
  const [msText, seqText = '0'] = id.split('-');
  const ms = BigInt(msText ?? '0');
  const seq = BigInt(seqText);
  if (seq > 0n) return `${ms}-${seq - 1n}`;
  if (ms > 0n) return `${ms - 1n}-18446744073709551615`;
  return '0';
}

export interface StreamReaderDeps {
  readonly handler: AnyHandler;
  readonly handlerConfig: unknown;
  readonly config: RuntimeConfig;
  readonly stream: string;
  readonly group: string;
  /** Shared, auto-pipelined: reclaim, pending checks, group lifecycle. */
  readonly commands: RedisClient;
  /** Dedicated to this consumer's blocking XREADGROUP. */
  readonly reader: RedisClient;
  /** The handler's read surface (the state loaded behind a read uses the reader for its first command). */
  readonly handlerRedis: RedisReader;
  readonly metrics: RuntimeMetrics;
  readonly log: RootLogger;
  readonly now: () => number;
  /** Whether a '>' read carries the batch state with it (see loadStateBehindRead). */
  readonly stateRidesWithRead: boolean;
}

/**
 * The consumer's side of the stream: XREADGROUP of new and own pending entries, XAUTOCLAIM of
 * entries dead consumers left, the pending list, and the consumer group's lifecycle (created at
 * start, created again where it was lost). Every command here is bounded by the connection's
 * command timeout, so none can leave its caller waiting forever.
 */
export class StreamReader {
  /**
   * The reader connection's CLIENT ID, learnt before its first blocking read on each connection
   * (undefined: not yet; null: not to be had, on a Cluster or where an ACL refuses CLIENT).
   */
  private readerId: number | null | undefined;

  constructor(private readonly deps: StreamReaderDeps) {
    // A new connection is a new client: its id is asked again before its first blocking read.
    if (!(deps.reader instanceof Cluster)) deps.reader.on('close', () => (this.readerId = this.readerId === null ? null : undefined));
  }

  /**
   * Ends a blocking read under way at once, as if its BLOCK_MS had run out (CLIENT UNBLOCK: no
   * entry is delivered by it), so a stop does not wait up to BLOCK_MS for a read to come back
   * empty: that wait was most of a restart's stop. Nothing happens where the id is unknown.
   */
  async unblockRead(): Promise<void> {
    const id = this.readerId;
    if (typeof id !== 'number') return;
    await this.deps.commands.call('CLIENT', 'UNBLOCK', id).catch(() => undefined);
  }

  private async learnReaderId(): Promise<void> {
    const { reader } = this.deps;
    if (this.readerId !== undefined) return;
    if (reader instanceof Cluster) {
      this.readerId = null;
      return;
    }
    try {
      this.readerId = Number(await reader.call('CLIENT', 'ID'));
    } catch {
      this.readerId = null; // an ACL without CLIENT: a stop waits for the read instead
    }
  }

  /** Creates the group at start: from the beginning of a new stream, kept as it is when it exists. */
  async ensureGroup(): Promise<void> {
    const { commands, stream, group, log } = this.deps;
    try {
      await commands.xgroup('CREATE', stream, group, '0', 'MKSTREAM');
      log.info('created consumer group');
    } catch (error) {
      if (!classifyRedisError(error).message.includes('BUSYGROUP')) throw error;
    }
  }

  /**
   * Creates the group again after it disappeared (FLUSHALL, a restart without persistence,
   * XGROUP DESTROY). It starts where the last commit recorded (just before the oldest entry
   * then pending, or after the newest acknowledged), or before the oldest entry this consumer
   * still holds if that is earlier: nothing acknowledged is handled again, nothing unacknowledged
   * is skipped. A stream that is gone too starts afresh from 0.
   */
  async recreateGroup(heldIds: readonly string[]): Promise<void> {
    const { commands, stream, group, log, metrics, handler } = this.deps;
    const [exists, recorded] = await Promise.all([commands.exists(stream), commands.hget(groupCursorKey(stream), group)]);
    let start = '0';
    if (exists === 1 && recorded) start = recorded.startsWith('(') ? idBefore(recorded.slice(1)) : recorded;
    const oldestHeld = [...heldIds].sort(compareStreamIds)[0];
    if (exists === 1 && oldestHeld !== undefined && compareStreamIds(idBefore(oldestHeld), start) < 0) start = idBefore(oldestHeld);
    try {
      await commands.xgroup('CREATE', stream, group, start, 'MKSTREAM');
    } catch (error) {
      if (classifyRedisError(error).message.includes('BUSYGROUP')) return; // another replica was first
      throw error;
    }
    metrics.recreated.inc({ handler: handler.name, what: 'consumer_group' });
    log.warn({ start, streamExisted: exists === 1, recorded }, 'consumer group was gone; created it again');
  }

  async read(id: '0' | '>'): Promise<Batch> {
    const { config, reader, stream, group } = this.deps;
    if (id === '>') await this.learnReaderId();
    const args: (string | number)[] = ['GROUP', group, config.CONSUMER_NAME, 'COUNT', config.BATCH_SIZE];
    if (id === '>') args.push('BLOCK', config.BLOCK_MS);
    args.push('STREAMS', stream, id);
    const rides = id === '>' && this.deps.stateRidesWithRead;
    // The read and the state's first command leave in one socket write: on this path (a batch at
    // a time at low rates) each write is a system call that also wakes redis-server.
    const socket = rides ? corkedSocket(reader) : undefined;
    let replied: Promise<[string, RawEntry[]][] | null>;
    let state: Promise<unknown> | undefined;
    try {
      replied = reader.call('XREADGROUP', ...args) as Promise<[string, RawEntry[]][] | null>;
      state = rides ? this.loadStateBehindRead() : undefined;
    } finally {
      socket?.uncork();
    }
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
    const { handler, handlerConfig, reader, now, handlerRedis } = this.deps;
    let behindRead = true;
    const routed = new Proxy(handlerRedis, {
      get(target, property) {
        const source = (behindRead ? reader : target) as unknown as Record<PropertyKey, unknown>;
        const value = source[property];
        return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(source) : value;
      },
    });
    const state = (async () => handler.batch?.loadState?.(routed, handlerConfig, now()))();
    behindRead = false;
    state.catch(() => undefined); // awaited with the batch; executeBatch loads afresh if it failed
    return state;
  }

  /** Takes over entries another consumer left pending past CLAIM_IDLE_MS (it died or hung), a page at a time. */
  async *reclaim(stopping: () => boolean): AsyncGenerator<Batch> {
    const { commands, config, metrics, stream, group, log, handler } = this.deps;
    let cursor = '0-0';
    do {
      const reply = (await commands.call(
        'XAUTOCLAIM',
        stream,
        group,
        config.CONSUMER_NAME,
        config.CLAIM_IDLE_MS,
        cursor,
        'COUNT',
        config.BATCH_SIZE,
      )) as [string, RawEntry[], string[]?];
      cursor = reply[0];
      const entries = reply[1].filter((entry) => entry[1] !== null);
      if (entries.length === 0) continue;
      metrics.reclaimed.inc({ handler: handler.name }, entries.length);
      log.info({ count: entries.length }, 'reclaimed pending entries from idle consumers');
      yield { entries, readAt: this.deps.now(), deliveries: await this.deliveryCounts(entries) };
    } while (cursor !== '0-0' && !stopping());
  }

  /**
   * Removes consumers that departed: not this one, nothing pending, no read attempt for
   * DEPARTED_CONSUMER_IDLE_MS. Every restart names a new consumer (host-pid), and the old names
   * otherwise stay in the group for good. A live consumer re-reads every BLOCK_MS, so it is never
   * that idle; the pending check and the removal run in one script, so a consumer that took an
   * entry in between keeps it.
   */
  async removeDepartedConsumers(): Promise<void> {
    const { commands, config, stream, group, log, metrics, handler } = this.deps;
    if (config.DEPARTED_CONSUMER_IDLE_MS === 0) return;
    const rows = (await commands.call('XINFO', 'CONSUMERS', stream, group)) as unknown[][];
    for (const row of rows) {
      const info = new Map<string, unknown>();
      for (let i = 0; i + 1 < row.length; i += 2) info.set(String(row[i]), row[i + 1]);
      const name = String(info.get('name'));
      if (name === config.CONSUMER_NAME || Number(info.get('pending')) !== 0 || Number(info.get('idle')) < config.DEPARTED_CONSUMER_IDLE_MS)
        continue;
      const removed = await commands.eval(REMOVE_IF_NOTHING_PENDING, 1, stream, group, name);
      if (removed === 1) {
        metrics.departedRemoved.inc({ handler: handler.name });
        log.info({ consumer: name, idleMs: Number(info.get('idle')) }, 'removed a departed consumer with nothing pending');
      }
    }
  }

  private async deliveryCounts(entries: RawEntry[]): Promise<Map<string, number>> {
    const first = entries[0]![0];
    const last = entries[entries.length - 1]![0];
    const rows = (await this.deps.commands.call(
      'XPENDING',
      this.deps.stream,
      this.deps.group,
      first,
      last,
      entries.length,
      this.deps.config.CONSUMER_NAME,
    )) as [string, string, number, number][];
    return new Map(rows.map(([id, , , deliveries]) => [id, deliveries]));
  }

  /** Which of `ids` are pending for this consumer (delivered to it, not acknowledged). */
  async pendingIds(ids: readonly string[]): Promise<Set<string>> {
    if (ids.length === 0) return new Set();
    const sorted = [...ids].sort(compareStreamIds);
    const rows = (await this.deps.commands.call(
      'XPENDING',
      this.deps.stream,
      this.deps.group,
      sorted[0]!,
      sorted[sorted.length - 1]!,
      // Our pending list also holds the prefetched batch, the one being handled and the two whose
      // commits may be in flight, which may fall inside the range.
      ids.length + 4 * this.deps.config.BATCH_SIZE + 10,
      this.deps.config.CONSUMER_NAME,
    )) as [string, string, number, number][];
    const wanted = new Set(ids);
    return new Set(rows.map((row) => row[0]).filter((id) => wanted.has(id)));
  }
}

/**
 * The connection's socket, corked (writes held until uncork, then sent as one), when the client
 * is connected to one node; undefined otherwise, and nothing is corked.
 */
function corkedSocket(client: RedisClient): { uncork(): void } | undefined {
  if (client instanceof Cluster || client.status !== 'ready') return undefined;
  const socket = (client as Redis).stream as { cork?: () => void; uncork?: () => void } | undefined;
  if (typeof socket?.cork !== 'function' || typeof socket.uncork !== 'function') return undefined;
  socket.cork();
  return socket as { uncork(): void };
}

/** Whether reading the state on the reader connection right behind the read is possible. */
export function canLoadStateBehindRead(handler: AnyHandler, reader: RedisClient): boolean {
  return handler.batch?.readsOwnWrites === false && handler.batch.loadState !== undefined && !(reader instanceof Cluster);
}
