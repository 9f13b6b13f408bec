import type { FastifyPluginAsync } from 'fastify';
import type { Registry } from 'prom-client';
import type { AnyHandler } from '../contract/handler.js';
import type { Committer } from '../engine/commit.js';
import { systemClock, type Clock } from '../engine/clock.js';
import { RedisClock, redisTimeMs, type ReadRedisTime } from '../engine/redis-clock.js';
import type { DecisionTape } from '../engine/execute.js';
import { pino } from 'pino';
import type { Logger as RootLogger } from 'pino';
import { createRegistry, promMetricFactory, runtimeMetrics } from '../engine/metrics.js';
import { periodicRefresh, type HostedHandler } from '../engine/refresh.js';
import { JobQueues } from '../sources/job-queues.js';
import type { Env } from '../../schemas/env.js';
import { backlogMonitor } from './backlog.js';
import { loadConfiguration, type RuntimeConfig } from './config.js';
import { hostGates, type ConsumerState } from './gates.js';
import { gateProbes, listenHealthPorts, readiness, readinessCauses, type ReadinessCauses } from './health.js';
import { describeRedis, openConnections, type RedisClient } from './redis.js';
import { RedisHealth } from './redis-health.js';
import { KeyWatches } from './key-watch.js';
import type { Redis } from 'ioredis';
import { bindNamingSetting, buildServer, gateRoutesPlugin } from './server.js';

/** What the application's HTTP plugins (status page, dashboard) and the gates' routes may use. */
export interface RuntimeServices {
  readonly config: RuntimeConfig;
  readonly env: Env;
  readonly redis: RedisClient;
  readonly registry: Registry;
  readonly handlers: readonly HostedHandler[];
  /** Every gate of the list, hosted here or not (their status sections read Redis). */
  readonly gateList: readonly AnyHandler[];
  readonly jobs: JobQueues;
  readonly logger: RootLogger;
  readonly consumers: readonly ConsumerState[];
  readinessCauses(): ReadinessCauses;
  /** Redis's clock as decisions read it, and how far this host's is off it (engine/redis-clock.ts). */
  readonly redisClock: { now(): number; readonly hostAheadMs: number | undefined };
  /** This host's clock: every wait, and the durations measured here. */
  readonly clock: Clock;
}

export interface RuntimeOptions {
  readonly env: Env;
  readonly handlers: readonly AnyHandler[];
  /** For quantum_gates_build_info. */
  readonly build: { readonly version: string; readonly commit: string };
  /** The application's (app/logging.ts: LOG_FORMAT, LOG_REPEAT_WINDOW_MS); plain JSON lines at LOG_LEVEL without. */
  readonly logger?: RootLogger;
  /** This host's clock: every wait, and the durations measured here; the system's unless given (a test drives its own). */
  readonly clock?: Clock;
  /**
   * Redis's clock, which decisions read (engine/redis-clock.ts): Redis's TIME unless given. A test
   * that drives the time of the whole world (Redis's stamps included) gives its own reading.
   */
  readonly readRedisTime?: ReadRedisTime;
  readonly httpPlugins?: (services: RuntimeServices) => FastifyPluginAsync[];
  /** Swap the single-node transaction for another commit strategy (Redis Cluster). */
  readonly committerFactory?: (connection: RedisClient, config: RuntimeConfig) => Committer;
  /** Records each decision for a rehearsal (app/tape), writing with the shared connection; `hosted`: the gates and their parsed settings. */
  readonly tape?: (
    redis: RedisClient,
    registry: Registry,
    logger: RootLogger,
    hosted: readonly { readonly handler: AnyHandler; readonly config: unknown }[],
    clock: Clock,
  ) => DecisionTape;
}

export type Runtime = Awaited<ReturnType<typeof createRuntime>>;

/** Hosts the gates the settings select, and serves their HTTP surface. Nothing reads or listens before start(). */
export async function createRuntime(options: RuntimeOptions) {
  const { config, hosted: parsed } = loadConfiguration(options.env, options.handlers);
  const logger =
    options.logger ??
    pino({ name: 'quantum-gates', level: config.LOG_LEVEL, base: { pid: process.pid }, timestamp: pino.stdTimeFunctions.isoTime });
  const clock = options.clock ?? systemClock;
  const registry = createRegistry();
  const factory = promMetricFactory(registry);
  const metrics = runtimeMetrics(registry, options.build);
  const hosted: HostedHandler[] = parsed.map((h) => ({ ...h, metrics: h.handler.metrics(factory, h.config) as object }));

  const connections = openConnections(config, metrics);
  const { commands } = connections;
  const readRedisTime = options.readRedisTime ?? (async () => redisTimeMs(await commands.time()));
  const redisClock = new RedisClock(clock, readRedisTime, (hostAheadMs) => metrics.clockOffset.set(hostAheadMs / 1000));
  const health = new RedisHealth(commands, config, logger, clock, redisClock);
  const jobs = new JobQueues(connections.bull, config.BULLMQ_PREFIX, (queue, error) =>
    logger.warn({ queue, err: error.message }, 'queue error'),
  );
  const tape = options.tape?.(commands, registry, logger, hosted, clock);
  const watches = new KeyWatches(
    hosted.flatMap((h) => (h.handler.keyWatch ? [h.handler.keyWatch(h.config)] : [])),
    {
      commands,
      // Keyspace events are per node: on a cluster every decision reads every listed key.
      openSubscriber: config.REDIS_CLUSTER_NODES ? undefined : () => connections.open('subscriber', 'key-watch') as Redis,
      // Judges the hashes it reads on the clock decisions read (stamped ahead, aged).
      clock: redisClock,
      logger,
      factory,
    },
  );
  const reads = watches.reader(commands);
  const gates = await hostGates({
    hosted,
    config,
    connections,
    jobs,
    health,
    metrics,
    logger,
    clock,
    redisClock,
    committerFactory: options.committerFactory,
    tape,
    reads,
  });
  const backlog = backlogMonitor(commands, () => gates.consumers(), { pending: metrics.consumerPending, lag: metrics.consumerLag }, clock);
  // The gates' refreshes (the heat gate's heat without a proposal) read the book through the key watch too.
  const refresh = periodicRefresh(hosted, reads, logger, redisClock);

  let started = false;
  const progress = { started: () => started, health, gates, backlog, watches };
  const services: RuntimeServices = {
    config,
    env: options.env,
    redis: commands,
    registry,
    handlers: hosted,
    gateList: options.handlers,
    jobs,
    logger,
    get consumers() {
      return gates.consumers();
    },
    readinessCauses: () => readinessCauses(progress),
    redisClock,
    clock,
  };

  const probes = gateProbes({ hosted, gates, commands, registry, backlog, clock });
  const server = await buildServer({
    registry,
    queues: () => jobs.allQueues(),
    readiness: () => readiness(progress),
    ...probes,
    config,
    plugins: [gateRoutesPlugin(hosted, commands, logger, redisClock), ...(options.httpPlugins?.(services) ?? [])],
    clock,
  });

  const stopped = new AbortController();
  let healthServers: Awaited<ReturnType<typeof listenHealthPorts>> = [];
  return {
    config,
    server,
    services,
    metrics,
    readiness: () => readiness(progress),
    /** Resolves with the bound address. */
    async start(): Promise<string> {
      logger.info({ redis: describeRedis(config), handlers: hosted.map((h) => h.handler.name) }, 'starting quantum-gates');
      for (const h of hosted) if (h.handler.startLine) logger.info({ handler: h.handler.name }, h.handler.startLine(h.config));
      // Ports first: one in use is a setting to change, said before any gate joins its group.
      const address = await bindNamingSetting(
        () => server.listen({ host: config.HOST, port: config.PORT }),
        'PORT',
        config.HOST,
        config.PORT,
      );
      healthServers = await bindNamingSetting(
        () => listenHealthPorts(probes.health, config.HOST),
        `a gate's health port (${probes.health.flatMap((g) => (g.port === undefined ? [] : [`${g.name}: ${g.port}`])).join(', ')})`,
        config.HOST,
      );
      health.start();
      await connections.waitForRedisAtStart(stopped.signal, logger, clock);
      if (stopped.signal.aborted) return address;
      watches.start();
      await gates.start();
      await health.probeNow();
      backlog.start();
      refresh.start();
      started = true;
      logger.info({ address }, 'listening');
      return address;
    },
    async stop(): Promise<void> {
      stopped.abort();
      logger.info('stopping: draining in-flight batches');
      backlog.stop();
      health.stop();
      await Promise.all([refresh.stop(), gates.stop()]);
      watches.stop();
      await server.close();
      await Promise.all(healthServers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
      await jobs.close();
      await tape?.flushed();
      await connections.closeAll();
      logger.info('stopped');
    },
  };
}
