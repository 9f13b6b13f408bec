import type { Logger as RootLogger } from 'pino';
import type { RuntimeConfig } from './config.js';
import { Cluster } from 'ioredis';
import { isReady, type RedisClient } from './redis.js';
import { classifyRedisError } from '../engine/redis-errors.js';
import type { Clock } from '../engine/clock.js';
import type { RedisClock } from '../engine/redis-clock.js';

/** Why Redis cannot serve the gates right now, as /ready reports it. */
export interface RedisFault {
  readonly cause: 'unreachable' | 'stalled' | 'writes_refused' | 'evicts_keys';
  readonly since: number; // ms since the epoch
  readonly detail: string;
}

/**
 * Redis's maxmemory-policy, on every node that holds data: `noeviction` is the only one the gates
 * can run on (an evicting Redis drops reservations, permits, dead letters when memory fills:
 * docs/operations.md). A policy, or `unknown` with why CONFIG GET was refused (an ACL, a renamed
 * command): then nothing is known, and the caller warns.
 */
export async function evictionPolicy(client: RedisClient): Promise<{ readonly policy: string } | { readonly unknown: string }> {
  const nodes = client instanceof Cluster ? client.nodes('master') : [client];
  try {
    for (const node of nodes) {
      const [, policy] = (await node.config('GET', 'maxmemory-policy')) as string[];
      if (policy !== undefined && policy !== 'noeviction') return { policy };
    }
    return { policy: 'noeviction' };
  } catch (error) {
    return { unknown: classifyRedisError(error).message };
  }
}

/**
 * Probes Redis with a PING and a write of our own key, so /ready turns 503 while Redis is
 * unreachable, stalled (DEBUG SLEEP, a long script) or refusing writes (OOM, a read-only replica,
 * a failed disk save), even while every gate is idle. Commits report their refusals here too.
 */
export class RedisHealth {
  private stopTimer = (): void => undefined;
  private inFlight: Promise<void> | undefined;
  /** Until Redis first answered, "unreachable" is the start-up's connecting, not a fault to log. */
  private everHealthy = false;
  private probeStartedAt = 0;
  private probeFault: RedisFault | undefined;
  private commitFault: RedisFault | undefined;
  private reported: string | undefined;
  private faultLogged = false;

  constructor(
    private readonly client: RedisClient,
    private readonly config: RuntimeConfig,
    private readonly logger: RootLogger,
    private readonly clock: Clock,
    /** Given each TIME the probe reads, so the offset the status shows stays fresh while no decision is made. */
    private readonly redisClock: RedisClock,
  ) {}

  private readonly tick = () => void this.probeNow();
  /** Connected again: the connection's own unreachable fault is over; the probe sent now says whether Redis serves. */
  private readonly onReady = () => {
    this.connectionError = undefined;
    if (this.probeFault?.cause === 'unreachable') this.probeFault = undefined;
    this.tick();
  };
  /**
   * Why the connection cannot be made, as Redis said it (NOAUTH, WRONGPASS: a password set or
   * rotated under the gates; max clients): /ready names it with the connection's state, until it is ready.
   */
  private connectionError: string | undefined;
  private readonly onError = (error: unknown) => {
    this.connectionError = classifyRedisError(error).message;
  };
  private unreachable(): string {
    const state = `connection ${this.client.status}`;
    return this.connectionError === undefined ? state : `${state}: ${this.connectionError}`;
  }

  start(): void {
    this.tick();
    // Probe as soon as a connection comes back, so readiness follows it without waiting a period.
    this.client.on('ready', this.onReady);
    this.client.on('error', this.onError);
    // At least once a second, and often enough to notice a stall.
    this.stopTimer = this.clock.every(Math.min(1000, this.config.REDIS_STALL_MS), this.tick);
  }

  stop(): void {
    this.stopTimer();
    this.client.off('ready', this.onReady);
    this.client.off('error', this.onError);
  }

  get fault(): RedisFault | undefined {
    const { client, clock, probeStartedAt } = this;
    if (!isReady(client))
      return this.remember({ cause: 'unreachable', since: this.probeFault?.since ?? clock.now(), detail: this.unreachable() });
    const waited = clock.now() - probeStartedAt;
    if (this.inFlight && waited > this.config.REDIS_STALL_MS)
      return this.remember({ cause: 'stalled', since: probeStartedAt, detail: `no answer to TIME for ${waited} ms` });
    return this.probeFault ?? this.commitFault;
  }

  /** True while failures are the system's rather than a message's (do not charge them to messages). */
  get stalled(): boolean {
    const cause = this.fault?.cause;
    return cause === 'unreachable' || cause === 'stalled';
  }

  /** A commit was refused for a cause that is Redis's, not the batch's. */
  noteWriteRefused(detail: string): void {
    this.commitFault ??= { cause: 'writes_refused', since: this.clock.now(), detail };
    this.report();
  }

  noteWriteAccepted(): void {
    if (this.commitFault === undefined) return;
    this.commitFault = undefined;
    this.report();
  }

  private remember(fault: RedisFault): RedisFault {
    if (this.probeFault?.cause !== fault.cause) {
      this.probeFault = fault;
      this.report();
    } else if (this.probeFault.detail !== fault.detail) {
      // The same fault, better said (the connection's error arrived): since when is kept.
      this.probeFault = { ...fault, since: this.probeFault.since };
      this.report();
    }
    return this.probeFault;
  }

  /** Probes once now, or waits for the probe in flight (the runtime's start awaits it, so /ready is right from the first request). */
  probeNow(): Promise<void> {
    if (this.inFlight) {
      this.report(); // a stall is noticed while the probe is still out
      return this.inFlight;
    }
    const { client, clock } = this;
    if (!isReady(client)) {
      this.remember({ cause: 'unreachable', since: clock.now(), detail: this.unreachable() });
      return Promise.resolve();
    }
    this.probeStartedAt = clock.now();
    this.inFlight = this.runProbe();
    return this.inFlight;
  }

  private async runProbe(): Promise<void> {
    const { client, clock } = this;
    /** A fault the last probe found too began then. */
    const since = (cause: RedisFault['cause']) => (this.probeFault?.cause === cause ? this.probeFault.since : clock.now());
    let pinged = false;
    try {
      // TIME answers as PING does, and measures Redis's clock against this host's on the way.
      await this.redisClock.sync();
      pinged = true;
      // A key of our own, with an expiry well past the next probes.
      await client.set(`quantum:gates:health:${this.config.CONSUMER_NAME}`, String(clock.now()), 'PX', 10_000);
      // A policy changed to an evicting one after start (CONFIG SET) holds /ready at 503 until it is noeviction again.
      const eviction = await evictionPolicy(client);
      const evicting = 'policy' in eviction && eviction.policy !== 'noeviction' ? eviction.policy : undefined;
      const detail = `maxmemory-policy is ${evicting}: Redis may evict the gates' keys (reservations, permits); set it to noeviction`;
      this.probeFault = evicting ? { cause: 'evicts_keys', since: since('evicts_keys'), detail } : undefined;
      this.everHealthy = true;
    } catch (error) {
      const { message: detail, refusesWrites } = classifyRedisError(error);
      // A refused write is its own fault, begun when it was first refused; anything else is Redis out of reach.
      this.probeFault =
        pinged && refusesWrites
          ? { cause: 'writes_refused', since: since('writes_refused'), detail }
          : { cause: 'unreachable', since: this.probeFault?.since ?? clock.now(), detail };
    } finally {
      this.inFlight = undefined;
      this.report();
    }
  }

  /** Logs each change of state once, not once per probe. */
  private report(): void {
    const fault = this.fault;
    const key = fault ? `${fault.cause}:${fault.detail.split(' ')[0]}` : undefined;
    if (key === this.reported) return;
    this.reported = key;
    const log = fault !== undefined && (this.everHealthy || fault.cause !== 'unreachable');
    if (log) this.logger.error({ cause: fault.cause, detail: fault.detail }, 'redis cannot serve the gates');
    else if (fault === undefined && this.faultLogged) this.logger.info('redis healthy again');
    this.faultLogged = log;
  }
}
