import type { Clock } from '../engine/clock.js';
import type { RedisClock } from '../engine/redis-clock.js';
import type { Committer } from '../engine/commit.js';
import { commitBatch, type CommitLoopEnv } from '../engine/commit-loop.js';
import { deadLetterDestination } from '../engine/dead-letter.js';
import type { Delivery } from '../engine/delivery.js';
import { directReads, type DecisionTape } from '../engine/execute.js';
import type { Logger as RootLogger } from 'pino';
import { prepareBatch, rerun, type PipelineEnv } from '../engine/message-pipeline.js';
import type { RuntimeMetrics } from '../engine/metrics.js';
import { Settler, type JobSink } from '../engine/settle.js';
import type { AnyHandler, MessageMeta } from '../contract/handler.js';
import type { RedisReader } from '../contract/redis-reader.js';
import { isReady, type RedisClient } from '../engine/connection.js';

/** The runtime settings a source reads (docs/operations.md §8's table says what each means). */
export type SourceSettings = Readonly<
  Record<'BULLMQ_PREFIX' | 'CONSUMER_NAME' | 'DLQ_STREAM', string> &
    Record<'BATCH_SIZE' | 'BLOCK_MS' | 'CLAIM_IDLE_MS' | 'CLAIM_INTERVAL_MS' | 'DEPARTED_CONSUMER_IDLE_MS' | 'MAX_DELIVERIES', number> &
    Record<'COMMAND_TIMEOUT_MS' | 'COMMIT_BACKOFF_MAX_MS' | 'DLQ_MAXLEN' | 'JOB_CONCURRENCY', number>
>;

/** What a source (a stream consumer, a job runner) gives its pipeline. */
export interface SourceDeps {
  readonly handler: AnyHandler;
  readonly handlerConfig: unknown;
  readonly handlerMetrics: object;
  readonly config: SourceSettings;
  /** Shared, auto-pipelined: the handler's reads. */
  readonly commands: RedisClient;
  /** The handler's ctx.redis: `commands` with the key watches' keysToRead (runtime/host/key-watch.ts). */
  readonly reads: RedisReader;
  readonly committer: Committer;
  readonly jobs: JobSink;
  readonly metrics: RuntimeMetrics;
  readonly logger: RootLogger;
  /** Waits, and durations on this host (progress, reclaim). */
  readonly clock: Clock;
  /** What decisions read the time on (redis-clock.ts): every comparison with a stream id or a producer's stamp. */
  readonly redisClock: RedisClock;
  readonly health: CommitLoopEnv['health'] & { readonly stalled: boolean };
  readonly tape?: DecisionTape | undefined;
}

/** Why a source is not making progress, for /ready. */
export interface ConsumerFault {
  readonly cause: string;
  readonly since: number;
}

/** How one source differs from the other. */
export interface SourceShape {
  /** Its log lines' fields besides the handler's name (stream and group, or queue). */
  readonly bindings: Readonly<Record<string, string>>;
  /** Each message's log fields besides the bindings. */
  readonly logFields: (meta: MessageMeta) => Readonly<Record<string, string | undefined>>;
  /** The dead letter's source_stream and group ('' for jobs). */
  readonly sourceStream: string;
  readonly group: string;
  /** Deliveries after which a stream entry is dead-lettered unhandled; jobs: BullMQ counts attempts itself. */
  readonly maxDeliveries: number;
  readonly waitForRedis: () => Promise<void>;
  /** Jobs only: where the runtime records the job as done (see IdempotencyDeclaration). */
  readonly doneKey?: (meta: MessageMeta) => string;
  readonly commit: Pick<CommitLoopEnv, 'source' | 'pendingIds'>;
  readonly onCommitted?: () => void;
}

/**
 * The engine wired for one source (ctx, validation and dead letters, the commit loop with its
 * re-run of a lost guard), its stop signal, and the progress and commit refusals /ready reports.
 */
export class SourcePipeline {
  readonly log: RootLogger;
  /** When the source last read or committed. */
  lastProgressAt: number;
  /** Set while commits (or a message's reads) are refused; cleared by the next commit that applies, unless a key's writes stay refused (refusedKeys). */
  commitFault: ConsumerFault | undefined;
  /** Set while the gate's last batch state says an input of it cannot be read (BatchHints.stateFault). */
  inputFault: ConsumerFault | undefined;
  private readonly refusedKeys = new Map<string, string>();
  private refusedSince = 0;
  /** Aborted when the source stops: ends its waits and pauses. */
  readonly abort = new AbortController();
  private readonly env: PipelineEnv;
  private readonly commitEnv: CommitLoopEnv;
  /** Sleeps `ms`, or less if the source stops meanwhile. */
  readonly pause: (ms: number) => Promise<void>;

  constructor(deps: SourceDeps, shape: SourceShape) {
    const { handler, metrics, clock } = deps;
    const now = () => clock.now();
    this.pause = (ms) => clock.sleep(ms, this.abort.signal);
    this.log = deps.logger.child({ handler: handler.name, ...shape.bindings });
    this.lastProgressAt = now();
    // The tape wraps the reader and the clock: every decision's reads and readings are recorded.
    const reads = directReads(deps.reads, deps.redisClock.now, () => deps.redisClock.syncIfStale());
    this.env = {
      handler,
      decision: {
        reads: deps.tape ? deps.tape.wrap(reads) : reads,
        config: deps.handlerConfig,
        metrics: deps.handlerMetrics,
        logger: (meta) => this.log.child(shape.logFields(meta)),
        doneKey: shape.doneKey,
      },
      pace: {
        redisReady: () => isReady(deps.commands) && !deps.health.stalled,
        waitForRedis: shape.waitForRedis,
        stopping: () => this.stopping,
        sleep: this.pause,
        onRetry: (count) => metrics.retries.inc({ handler: handler.name }, count),
        onHeld: (failure) => {
          this.commitFault ??= { cause: `reads refused (${failure.cause}): ${failure.message}`, since: now() };
        },
        onState: (state) => this.judgeState(state),
      },
      maxDeliveries: shape.maxDeliveries,
      deadLetter: { ...deadLetterDestination(deps.config, handler.name), sourceStream: shape.sourceStream, group: shape.group },
    };
    this.commitEnv = {
      handlerName: handler.name,
      committer: deps.committer,
      metrics,
      log: this.log,
      settle: new Settler({ handlerName: handler.name, metrics, jobs: deps.jobs, log: this.log, tape: deps.tape }),
      rerun: (deliveries) => rerun(this.env, deliveries),
      now,
      claimIdleMs: deps.config.CLAIM_IDLE_MS,
      backoffMaxMs: deps.config.COMMIT_BACKOFF_MAX_MS,
      sleep: this.pause,
      stop: this.abort.signal,
      health: deps.health,
      waitForRedis: shape.waitForRedis,
      onProgress: () => {
        this.lastProgressAt = now();
        this.commitFault = this.refusedKeyFault();
        shape.onCommitted?.();
      },
      onFailure: (failure) => {
        this.commitFault ??= { cause: `commits refused (${failure.cause}): ${failure.message}`, since: now() };
      },
      refusedKeys: this.refusedKeys,
      ...shape.commit,
    };
  }

  /** A key the gate writes that Redis keeps refusing: the gate cannot do its work until a person fixes it. */
  private refusedKeyFault(): ConsumerFault | undefined {
    const [first] = this.refusedKeys;
    this.refusedSince = first === undefined ? 0 : this.refusedSince || this.env.decision.reads.now();
    return (
      first && { cause: `writes to ${first[0]} refused (its messages held until it is written): ${first[1]}`, since: this.refusedSince }
    );
  }

  /** The gate's stateFault of a state just loaded: set (since its first sight) or cleared. */
  private judgeState(state: unknown): void {
    const cause = this.env.handler.batch?.stateFault?.(state);
    if (cause === undefined) this.inputFault = undefined;
    else this.inputFault = { cause, since: this.inputFault?.since ?? this.env.decision.reads.now() };
  }

  /**
   * While an input fault stands and no message comes to load the state, loads it (untaped: no
   * decision reads it) to see whether the fault has cleared. A failed load leaves the fault as it is.
   */
  async recheckInput(): Promise<void> {
    const load = this.env.handler.batch?.loadState;
    if (this.inputFault === undefined || load === undefined) return;
    const { reads, config } = this.env.decision;
    try {
      await reads.syncClock?.();
      // Read past the tape (reads.redis is not recorded): no decision reads this state.
      this.judgeState(await load(reads.redis, config, reads.now()));
    } catch {
      // Redis's own faults are the health probe's to report; the next load judges again.
    }
  }

  get stopping(): boolean {
    return this.abort.signal.aborted;
  }

  /**
   * Handles and commits `deliveries`: in one commit, or one after another for a commitEach gate
   * (those that may share a state read, together: execute.ts SharedRun).
   * False when some delivery was left uncommitted (still conflicting, or the source stopped meanwhile).
   */
  async run(deliveries: readonly Delivery[], readAt: number): Promise<boolean> {
    const batch = this.env.handler.batch;
    // A gate that declares its own writes commits a shared run together, the rest after (commit-loop.ts).
    if (batch?.commitEach !== true || this.env.handler.own?.writes !== undefined) return this.handleAndCommit(deliveries, readAt);
    let complete = true;
    for (const delivery of deliveries) complete = (await this.handleAndCommit([delivery], readAt)) && complete;
    return complete;
  }

  private async handleAndCommit(deliveries: readonly Delivery[], readAt: number): Promise<boolean> {
    return commitBatch(this.commitEnv, await prepareBatch(this.env, deliveries, readAt));
  }
}
