import { TransactionCommitter, type Committer } from '../engine/commit.js';
import { ClusterCommitter } from '../engine/cluster-commit.js';
import type { RootLogger } from '../engine/logger.js';
import type { RuntimeMetrics } from '../engine/metrics.js';
import type { AnyHandler } from '../contract/handler.js';
import type { JobQueues } from '../sources/job-queues.js';
import type { JobRunner } from '../sources/job-runner.js';
import { StreamConsumer } from '../sources/stream-consumer.js';
import type { RuntimeConfig } from './config.js';
import type { Connections, RedisClient } from './redis.js';
import type { RedisHealth } from './redis-health.js';

/** A handler as the runtime hosts it: its parsed config and its live metrics. */
export interface HostedHandler {
  readonly handler: AnyHandler;
  readonly config: unknown;
  readonly metrics: object;
}

/** Where a hosted gate reads from and whether it does now. */
export interface ConsumerState {
  readonly handler: string;
  readonly source: string;
  readonly group?: string;
  readonly consuming: boolean;
}

export interface GateDeps {
  readonly hosted: readonly HostedHandler[];
  readonly config: RuntimeConfig;
  readonly connections: Connections;
  readonly jobs: JobQueues;
  readonly health: RedisHealth;
  readonly metrics: RuntimeMetrics;
  readonly logger: RootLogger;
  readonly now: () => number;
  readonly committerFactory: ((connection: RedisClient, config: RuntimeConfig) => Committer) | undefined;
}

/** The hosted gates' consumers and job runners, one per gate, in the order of `hosted`. */
export type HostedGates = Awaited<ReturnType<typeof hostGates>>;

export async function hostGates(deps: GateDeps) {
  const { hosted, config, connections, jobs } = deps;
  // BullMQ and the job runner are loaded only for a gate fed by a queue or a schedule; a process
  // of stream gates alone loads BullMQ on its first ctx.schedule, if ever (job-queues.ts).
  const jobSources = hosted.some((h) => h.handler.trigger.kind !== 'stream')
    ? await Promise.all([import('../sources/job-runner.js'), jobs.load()])
    : undefined;
  const makeCommitter = (connection: RedisClient) =>
    deps.committerFactory?.(connection, config) ??
    (config.REDIS_CLUSTER_NODES
      ? new ClusterCommitter(connection, config.STREAM_MAXLEN)
      : new TransactionCommitter(connection, config.STREAM_MAXLEN));

  const workers = hosted.map((h): StreamConsumer | JobRunner => {
    const committerConnection = connections.open('transactions', `${h.handler.name}:commit`);
    const common = {
      handler: h.handler,
      handlerConfig: h.config,
      handlerMetrics: h.metrics,
      config,
      commands: connections.commands,
      committer: makeCommitter(committerConnection),
      metrics: deps.metrics,
      logger: deps.logger,
      now: deps.now,
      health: deps.health,
    };
    if (h.handler.trigger.kind === 'stream') {
      return new StreamConsumer({
        ...common,
        reader: connections.open('dedicated', `${h.handler.name}:read`),
        committerConnection,
        jobs,
        // The cursor hash lives in another slot than the stream: only where one script can reach both.
        recordsCursor: !config.REDIS_CLUSTER_NODES && deps.committerFactory === undefined,
      });
    }
    // Loaded above whenever a hosted gate's trigger is not a stream.
    const [{ JobRunner: Runner }, bullJobs] = jobSources!;
    return new Runner({ ...common, bullConnection: connections.bull, jobs: bullJobs });
  });
  const nameOf = (i: number) => hosted[i]!.handler.name;

  return {
    consumers: (): ConsumerState[] =>
      workers.map((w, i) =>
        w instanceof StreamConsumer
          ? { handler: nameOf(i), source: w.stream, group: w.group, consuming: w.isConsuming }
          : { handler: nameOf(i), source: `bullmq:${w.queueName}`, consuming: w.isConsuming },
      ),
    /** Each gate not making progress by a fault of its own. */
    faults: () =>
      workers.flatMap((w, i) => {
        const fault = w.fault(config.HEARTBEAT_TIMEOUT_MS);
        return fault ? [[nameOf(i), fault] as const] : [];
      }),
    /** How long the gate's last read-and-commit pass took (0 for a job runner). */
    lastLoopMs: (i: number) => {
      const worker = workers[i];
      return worker instanceof StreamConsumer ? worker.lastLoopMs : 0;
    },
    /**
     * Starts every gate at once: each start is a few round trips to Redis (its group, its
     * scheduler, its BullMQ worker's connections). Every start settles before this returns, so a
     * stop after a failed start finds none still under way; the error names each gate that failed.
     */
    async start(): Promise<void> {
      const settled = await Promise.allSettled(workers.map((w) => w.start()));
      const failed = settled.flatMap((result, i) =>
        result.status === 'rejected' ? [{ gate: nameOf(i), error: result.reason as unknown }] : [],
      );
      if (failed.length === 0) return;
      const message = failed.map(({ gate, error }) => `${gate} did not start: ${error instanceof Error ? error.message : String(error)}`);
      throw new Error(message.join('; '), { cause: failed[0]!.error });
    },
    /** Stops reading and commits the batches in hand. */
    async stop(): Promise<void> {
      await Promise.all(workers.map((w) => w.stop()));
    },
  };
}
