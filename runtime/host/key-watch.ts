import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { KeyWatchDeclaration } from '../contract/key-watch.js';
import type { MetricFactory } from '../contract/metrics.js';
import { sendRead, type ReadCommand, type RedisReader } from '../contract/redis-reader.js';
import type { Clock } from '../engine/clock.js';
import type { Logger as RootLogger } from 'pino';
import { isReady, type RedisClient } from '../engine/connection.js';
import { GateReader } from './gate-reader.js';
import { MISS, ReadCache } from './read-cache.js';

/**
 * The flags of notify-keyspace-events a key watch needs: K (keyspace channels), h (hash writes),
 * g (DEL, RENAME …) and x (expiry), so no write, delete or expiry of a watched key goes unseen
 * (eviction: the gates refuse a Redis that is not noeviction). Keeping replies (cachedReads) needs
 * also $, s and z, whose commands (SET, SUNIONSTORE …) can put a key of another type in a kept
 * hash's place. `A` stands for every class.
 */
const NEEDED_FLAGS = ['K', 'h', 'g', 'x'];
const CACHE_FLAGS = ['$', 's', 'z'];
const missingOf = (flags: string[], value: string) => flags.filter((f) => !(value.includes(f) || (f !== 'K' && value.includes('A'))));

export const missingKeyspaceFlags = (value: string): string[] => missingOf(NEEDED_FLAGS, value);

/** Why the key watch keeps no replies with keyspace events `value`, or undefined when it may. */
export function cacheOffWith(value: string): string | undefined {
  const missing = missingOf(CACHE_FLAGS, value).join('');
  if (missing !== '')
    return `notify-keyspace-events "${value}" lacks ${missing}: the position book sends every read each decision (correct, slower); add ${missing} (KA has every class; docs/operations.md)`;
}

/** The line that names the Redis setting when keyspace events are off: the start stops with it (app/redis-preflight.ts). */
export function keyspaceEventsOff(value: string): string {
  const missing = missingKeyspaceFlags(value).join('');
  return `Redis publishes no keyspace events the position book needs (notify-keyspace-events "${value}", missing ${missing}): add ${missing} (redis-cli CONFIG SET notify-keyspace-events ${value}${missing}, and in redis.conf; docs/operations.md)`;
}

/** notify-keyspace-events of the Redis `client` talks to, or `{ unknown }` with why it could not be read (CONFIG GET refused). */
export async function keyspaceEvents(client: RedisClient): Promise<{ value: string } | { unknown: string }> {
  try {
    const reply = (await client.call('CONFIG', 'GET', 'notify-keyspace-events')) as string[];
    return { value: reply[1] ?? '' };
  } catch (error) {
    return { unknown: error instanceof Error ? error.message : String(error) };
  }
}

/** Pause before subscribing again after a loss with the connection standing; each try checks the events again. */
const RESUBSCRIBE_PAUSE_MS = 1000;

/** Set (if absent) at every subscribe, read by every barrier: FLUSHALL publishes no event, but this key gone loses the watch. */
export const KEY_WATCH_EPOCH_KEY = 'quantum:gates:key_watch:epoch';

/** Keys per SCAN step while rebuilding: about a millisecond of Redis a step, whatever the keyspace. */
const SCAN_COUNT = 1000;

interface Watched {
  readonly declaration: KeyWatchDeclaration;
  /** Whose keys' replies cachedReads keeps: the judged prefixes and `cached`. */
  readonly cachedPrefixes: readonly string[];
  /** The keys a decision must read (judged `read`, and kept while absent). */
  readonly keys: Set<string>;
}

export interface KeyWatchDeps {
  readonly commands: RedisClient;
  /** Opens the dedicated subscriber connection (none on Redis Cluster: there every decision reads every listed key). */
  readonly openSubscriber: (() => Redis) | undefined;
  readonly clock: Clock;
  readonly logger: RootLogger;
  readonly factory: MetricFactory;
}

/**
 * The runtime's key watches (runtime/contract/key-watch.ts): one subscriber connection per process
 * PSUBSCRIBEs `__keyspace@<db>__:<prefix>*` for every declared prefix; each event's key is read on
 * the commands connection (pipelined) and judged, replies applied in reply order, so the newest
 * write wins. keysToRead is the barrier: a PING on the subscriber connection, whose PONG Redis sends
 * after every event it published before the PING, then the reads those events started. The watch
 * is live only after a subscribe and one read of every key under its prefixes (SCAN, begun after
 * the subscribe: a key present throughout is returned, one written meanwhile is an event); until then,
 * after any loss, with keyspace events off or on Redis Cluster, keysToRead answers null and the gate
 * reads every key it lists. docs/architecture.md "Consistency" holds the argument.
 */
export class KeyWatches {
  private readonly watches = new Map<string, Watched>();
  private subscriber: Redis | undefined;
  private live = false;
  /** Bumped at every loss: a barrier or rebuild of an earlier subscription is not trusted. */
  private generation = 0;
  private readonly inFlight = new Set<Promise<void>>();
  /** Keys events named since the last readEventKeys, each with whether a reply of it was kept. */
  private readonly eventKeys = new Map<string, boolean>();
  private readonly send = (read: ReadCommand) => sendRead(this.deps.commands as unknown as RedisReader, read);
  private readonly cache = new ReadCache();
  private epoch: string | null = null;
  /** Why no reply is kept (keyspace events lack CACHE_FLAGS), or undefined. */
  private cacheOff: string | undefined = 'not subscribed yet';
  /** cachedReads answers only after a barrier of this generation. */
  private barrierGeneration = -1;
  private channelPrefix = '';
  private why = 'not subscribed yet';
  private stopped = false;
  private readonly metrics;

  constructor(
    declarations: readonly KeyWatchDeclaration[],
    private readonly deps: KeyWatchDeps,
  ) {
    for (const declaration of declarations)
      if (!this.watches.has(declaration.name))
        this.watches.set(declaration.name, {
          declaration,
          cachedPrefixes: [...declaration.prefixes, ...(declaration.cached ?? [])],
          keys: new Set(),
        });
    const { factory } = deps;
    this.metrics = {
      fallback: factory.counter({
        name: 'quantum_gates_key_watch_fallback_total',
        help: 'Reads of a key watch answered "not live" (not subscribed yet, reconnecting, keyspace events off, Redis Cluster): the decision read every key its gate lists',
        labelNames: ['watch'],
      }),
      live: factory.gauge({
        name: 'quantum_gates_key_watch_live',
        help: 'Whether the key watch is live (1) or its gates read every listed key (0)',
        labelNames: ['watch'],
      }),
      keys: factory.gauge({
        name: 'quantum_gates_key_watch_keys',
        help: 'Keys a decision reads through the key watch',
        labelNames: ['watch'],
      }),
      events: factory.counter({
        name: 'quantum_gates_key_watch_events_total',
        help: 'Keyspace events of watched keys read (the events of one key in one turn, one read)',
        labelNames: ['watch'],
      }),
      cached: factory.counter({
        name: 'quantum_gates_key_watch_cached_reads_total',
        help: 'Reads of watched keys by a decision: answered from the reply kept since the key was last written (hit), or sent (miss)',
        labelNames: ['watch', 'result'],
      }),
    };
    for (const name of this.watches.keys()) this.metrics.live.set({ watch: name }, 0);
    if (deps.openSubscriber === undefined) this.why = 'Redis Cluster: keyspace events are per node';
  }

  /** Each watch's state for /ready's checks: `live`, or why its gates read every listed key. */
  states(): Record<string, string> {
    return Object.fromEntries(
      [...this.watches.keys()].flatMap((name) => [
        [`key_watch:${name}`, this.live ? 'live' : this.why],
        [`key_watch_cache:${name}`, !this.live ? this.why : (this.cacheOff ?? 'live')],
      ]),
    );
  }

  start(): void {
    if (this.watches.size === 0 || this.deps.openSubscriber === undefined) return;
    const subscriber = (this.subscriber = this.deps.openSubscriber());
    this.channelPrefix = `__keyspace@${subscriber.options.db ?? 0}__:`;
    subscriber.on('pmessage', (_pattern: string, channel: string) => this.onEvent(channel));
    subscriber.on('ready', () => void this.subscribe());
    subscriber.on('close', () => this.lose('the subscriber connection closed'));
    if (isReady(subscriber)) void this.subscribe();
  }

  stop(): void {
    this.stopped = true;
    this.lose('stopped');
  }

  /**
   * RedisReader.keysToRead: the barrier, then the watch's keys; null while not live. With the PING, a
   * CONFIG GET of notify-keyspace-events on the commands connection: events turned off before a
   * producer's write (so before the message and this read) are seen here, and this decision reads
   * every listed key.
   */
  async keysToRead(name: string): Promise<readonly string[] | null> {
    const watched = this.watches.get(name);
    if (watched === undefined) return null;
    const generation = this.generation;
    if (this.live && this.subscriber !== undefined) {
      try {
        const [, events, epoch] = await Promise.all([
          this.subscriber.ping(),
          keyspaceEvents(this.deps.commands),
          this.deps.commands.get(KEY_WATCH_EPOCH_KEY),
        ]);
        if ('unknown' in events) this.lose(`notify-keyspace-events not checked (CONFIG GET refused: ${events.unknown})`);
        else if (missingKeyspaceFlags(events.value).length > 0) this.lose(keyspaceEventsOff(events.value));
        else if (epoch !== this.epoch)
          this.lose(`${KEY_WATCH_EPOCH_KEY} is gone or changed (a FLUSHALL or FLUSHDB, which publish no keyspace events)`);
        else this.cacheTurns(events.value);
        await Promise.all([...this.inFlight]);
        if (this.live && generation === this.generation) {
          this.barrierGeneration = generation;
          return [...watched.keys];
        }
      } catch (error) {
        this.lose(`the barrier's PING failed: ${error instanceof Error ? error.message : String(error)}`);
      }
    }
    this.metrics.fallback.inc({ watch: name });
    return null;
  }

  /** RedisReader.cachedReads (after keysToRead's barrier): a watched key's kept reply, else sent (and kept). */
  async cachedReads(name: string, reads: readonly ReadCommand[]): Promise<unknown[] | null> {
    const watched = this.watches.get(name);
    if (watched === undefined || !this.live || this.barrierGeneration !== this.generation || this.cacheOff !== undefined) return null;
    // Only the misses are awaited (at 1,000 held ~70 of ~7,000 reads: a promise a hit was most of their cost); prefixes are compared on a miss only.
    const replies = reads.map((read) => (read[0] === 'EXISTS' ? undefined : this.cache.get(read)));
    const missed = [...replies.keys()].filter((i) => replies[i] === MISS || replies[i] === undefined);
    const keepable = (read: ReadCommand, reply: unknown) =>
      reply === MISS && watched.cachedPrefixes.some((p) => read[1].startsWith(p)) ? MISS : undefined;
    const sent = await Promise.all(missed.map((i) => this.keptOrSent(reads[i]!, keepable(reads[i]!, replies[i]))));
    missed.forEach((i, j) => (replies[i] = sent[j]));
    this.metrics.cached.inc({ watch: name, result: 'hit' }, reads.length - missed.length);
    this.metrics.cached.inc({ watch: name, result: 'miss' }, missed.length);
    return replies;
  }

  /** A read's kept reply, else sent (kept if its key may be), a refusal of its key its reply; asked for the reads not kept. */
  private keptOrSent(read: ReadCommand, kept: unknown): unknown {
    if (kept !== MISS && kept !== undefined) return kept;
    const sent = kept === MISS ? this.cache.read(read, this.send, isRefusedKey) : this.send(read);
    return sent.catch((error: unknown) => (isRefusedKey(error) ? error : Promise.reject(error)));
  }

  /** The gates' reader (gate-reader.ts) whose keysToRead is this watch's, everything else `commands`' own. */
  reader(commands: RedisClient): RedisReader {
    return new GateReader(commands, this);
  }

  /** Whether replies may be kept with keyspace events `value`; what was kept goes when they may not. */
  private cacheTurns(value: string): void {
    this.cacheOff = cacheOffWith(value);
    if (this.cacheOff !== undefined) this.cache.clear();
  }

  private onEvent(channel: string): void {
    if (!channel.startsWith(this.channelPrefix)) return;
    const key = channel.slice(this.channelPrefix.length);
    const wasKept = this.cache.written(key);
    // One read of a key for the events of one turn (a producer's HSET and EXPIRE), sent after them all.
    if (this.eventKeys.size === 0) queueMicrotask(() => this.readEventKeys());
    this.eventKeys.set(key, wasKept || this.eventKeys.get(key) === true);
  }

  /** A microtask queued by the turn's first event: it runs before a PONG that came after them all settles the barrier. */
  private readEventKeys(): void {
    for (const [key, keep] of this.eventKeys)
      for (const watched of this.watches.values())
        if (watched.declaration.prefixes.some((prefix) => key.startsWith(prefix))) {
          this.metrics.events.inc({ watch: watched.declaration.name });
          void this.read(watched, key, keep);
        }
    this.eventKeys.clear();
  }

  /**
   * Reads `key` on the commands connection and applies its judgement in the reply's turn: replies of
   * one connection come in the order the reads were sent, so the last applied is the newest. A reply
   * that is no answer about the key (a lost connection, a timeout) loses the watch: a key it would
   * have judged is unknown. `keep`: a decision read the key (kept until this write): so is this reply.
   */
  private read(watched: Watched, key: string, keep = false): Promise<void> {
    const { declaration } = watched;
    const apply = (reply: unknown) => {
      const judged = declaration.judge(key, reply, this.deps.clock.now());
      if (judged === 'read') watched.keys.add(key);
      else if (judged === 'skip') watched.keys.delete(key);
      this.metrics.keys.set({ watch: declaration.name }, watched.keys.size);
    };
    // A refusal of the key (another type) is its reply, judged; any other failure loses the watch.
    const sent = this.keptOrSent(declaration.read(key), keep && this.cacheOff === undefined ? MISS : undefined);
    const done = Promise.resolve(sent).then(apply, (error: unknown) =>
      this.lose(`a read of ${key} failed: ${error instanceof Error ? error.message : String(error)}`),
    );
    this.inFlight.add(done);
    void done.finally(() => this.inFlight.delete(done));
    return done;
  }

  /** The watch is not known to be live: gates read every listed key until a subscribe and a rebuild complete. */
  private lose(why: string): void {
    const wasLive = this.live;
    this.live = false;
    this.generation++;
    this.cache.clear();
    this.why = why;
    for (const name of this.watches.keys()) this.metrics.live.set({ watch: name }, 0);
    if (wasLive && !this.stopped)
      this.deps.logger.warn({ cause: why }, 'key watch lost: decisions read every listed P3.3 key until it is rebuilt');
    this.retry();
  }

  /** Subscribes and rebuilds again after a pause while the subscriber connection stands (a closed one does on its next 'ready'); a loss meanwhile makes its own try. */
  private retry(): void {
    if (this.stopped || this.subscriber === undefined || !isReady(this.subscriber)) return;
    const generation = this.generation;
    void this.deps.clock.sleep(RESUBSCRIBE_PAUSE_MS).then(() => {
      if (generation === this.generation && !this.stopped) void this.subscribe();
    });
  }

  /** Checks keyspace events, subscribes, reads every known key once, then trusts the watch. */
  private async subscribe(): Promise<void> {
    const subscriber = this.subscriber;
    if (subscriber === undefined || this.stopped) return;
    const generation = ++this.generation;
    this.live = false;
    try {
      const events = await keyspaceEvents(this.deps.commands);
      if ('unknown' in events) return this.refuse(generation, `notify-keyspace-events not checked (CONFIG GET refused: ${events.unknown})`);
      if (missingKeyspaceFlags(events.value).length > 0) return this.refuse(generation, keyspaceEventsOff(events.value));
      this.cacheTurns(events.value);
      const prefixes = [...new Set([...this.watches.values()].flatMap((w) => w.declaration.prefixes))];
      const cached = [...new Set([...this.watches.values()].flatMap((w) => w.cachedPrefixes))];
      await subscriber.psubscribe(...cached.map((prefix) => `${this.channelPrefix}${prefix}*`));
      this.cache.clear(); // a write before this subscription may have gone unseen
      await this.deps.commands.set(KEY_WATCH_EPOCH_KEY, randomUUID(), 'NX');
      this.epoch = await this.deps.commands.get(KEY_WATCH_EPOCH_KEY);
      for (const prefix of prefixes) await this.rebuild(prefix, generation);
      await Promise.all([...this.inFlight]);
      if (generation !== this.generation || this.stopped) return;
      this.live = true;
      this.why = 'live';
      for (const name of this.watches.keys()) this.metrics.live.set({ watch: name }, 1);
      this.deps.logger.info({ watches: [...this.watches.keys()] }, 'key watch live: decisions read the watched keys that hold something');
    } catch (error) {
      if (generation === this.generation) this.lose(`subscribing failed: ${error instanceof Error ? error.message : String(error)}`);
    }
  }

  /**
   * Reads every key under `prefix` once (SCAN … MATCH, a step at a time), for each watch of it: after
   * the subscribe, so a key SCAN misses was written or removed meanwhile, and its event read it.
   */
  private async rebuild(prefix: string, generation: number): Promise<void> {
    const reader = this.deps.commands as unknown as RedisReader;
    let cursor = '0';
    do {
      const [next, found] = await reader.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', SCAN_COUNT);
      for (const watched of this.watches.values())
        if (watched.declaration.prefixes.includes(prefix)) await Promise.all(found.map((key) => this.read(watched, key)));
      cursor = next;
    } while (cursor !== '0' && generation === this.generation && !this.stopped);
  }

  /** Keyspace events off or unchecked: not live (named on /ready), checked again after a pause. */
  private refuse(generation: number, why: string): void {
    if (generation !== this.generation) return;
    if (why !== this.why)
      this.deps.logger.error({ cause: why }, 'key watch off: decisions read every listed P3.3 key (slower, never short of a position)');
    this.why = why;
    this.retry();
  }
}

/** Redis refusing a key (another type): an answer about that key alone. */
function isRefusedKey(error: unknown): error is Error {
  return error instanceof Error && /^WRONGTYPE\b/.test(error.message);
}
