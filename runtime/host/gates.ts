import { TransactionCommitter, type Committer } from '../engine/commit.js';
import { ClusterCommitter } from '../engine/cluster-commit.js';
import type { HostedHandler } from '../engine/refresh.js';
import type { RedisReader } from '../contract/redis-reader.js';
import type { JobQueues } from '../sources/job-queues.js';
import type { JobRunner } from '../sources/job-runner.js';
import type { SourceDeps } from '../sources/pipeline.js';
import { StreamConsumer } from '../sources/stream-consumer.js';
import type { RuntimeConfig } from './config.js';
import type { Connections, RedisClient } from './redis.js';

export interface ConsumerState {
  readonly handler: string;
  readonly source: string;
  readonly group?: string;
  readonly consuming: boolean;
}

export interface GateDeps extends Pick<SourceDeps, 'health' | 'metrics' | 'logger' | 'clock' | 'redisClock' | 'tape'> {
  readonly config: RuntimeConfig;
  readonly hosted: readonly HostedHandler[];
  readonly connections: Connections;
  readonly jobs: JobQueues;
  readonly committerFactory: ((connection: RedisClient, config: RuntimeConfig) => Committer) | undefined;
  /** The handlers' ctx.redis (the commands connection with the key watches). */
  readonly reads: RedisReader;
}

/** One consumer or job runner per hosted gate, in the order of `hosted`. */
export type HostedGates = Awaited<ReturnType<typeof hostGates>>;

export async function hostGates(deps: GateDeps) {
  const { hosted, connections, committerFactory, ...shared } = deps;
  const { config, jobs } = shared;
  // BullMQ is loaded here only for a gate fed by a queue or a schedule (job-queues.ts).
  const jobSources = hosted.some((h) => h.handler.trigger.kind !== 'stream')
    ? await Promise.all([import('../sources/job-runner.js'), jobs.load()])
    : undefined;
  const makeCommitter = (connection: RedisClient, { handler, config: handlerConfig }: HostedHandler) => {
    const own = handler.own?.writes;
    return (
      committerFactory?.(connection, config) ??
      (config.REDIS_CLUSTER_NODES
        ? new ClusterCommitter(connection, config.STREAM_MAXLEN)
        : new TransactionCommitter(connection, config.STREAM_MAXLEN, own && ((key, item) => own(key, item.message, handlerConfig))))
    );
  };

  const workers = hosted.map((h): StreamConsumer | JobRunner => {
    const committerConnection = connections.open('transactions', `${h.handler.name}:commit`);
    const common = {
      ...shared,
      handler: h.handler,
      handlerConfig: h.config,
      handlerMetrics: h.metrics,
      commands: connections.commands,
      reads: deps.reads,
      committer: makeCommitter(committerConnection, h),
    };
    if (h.handler.trigger.kind === 'stream') {
      return new StreamConsumer({
        ...common,
        reader: connections.open('dedicated', `${h.handler.name}:read`),
        committerConnection,
        recordsCursor: !config.REDIS_CLUSTER_NODES && committerFactory === undefined,
      });
    }
    const [{ JobRunner: Runner }, bullJobs] = jobSources!;
    return new Runner({ ...common, bullConnection: connections.bull, jobs: bullJobs });
  });
  const nameOf = (i: number) => hosted[i]!.handler.name;

  return {
    consumers: (): ConsumerState[] =>
      workers.map((w, i) =>
        w instanceof StreamConsumer
          ? { handler: nameOf(i), source: w.stream, group: w.group, consuming: w.isConsuming }
          : { handler: nameOf(i), source: `bullmq:${w.trigger.queue}`, consuming: w.isConsuming },
      ),
    faults: () =>
      workers.flatMap((w, i) => {
        const fault = w.fault(config.HEARTBEAT_TIMEOUT_MS);
        return fault ? [{ gate: nameOf(i), cause: fault.cause, since: fault.since }] : [];
      }),
    lastLoopMs: (i: number) => (workers[i] instanceof StreamConsumer ? workers[i].lastLoopMs : 0),
    /** Starts every gate at once; all settle before this returns, so a stop after a failed start finds none under way. */
    async start(): Promise<void> {
      const settled = await Promise.allSettled(workers.map((w) => w.start()));
      const failed = settled.flatMap((result, i) =>
        result.status === 'rejected' ? [{ gate: nameOf(i), error: result.reason as unknown }] : [],
      );
      if (failed.length === 0) return;
      const message = failed.map(({ gate, error }) => `${gate} did not start: ${error instanceof Error ? error.message : String(error)}`);
      throw new Error(message.join('; '), { cause: failed[0]!.error });
    },
    async stop(): Promise<void> {
      await Promise.all(workers.map((w) => w.stop()));
    },
  };
}
