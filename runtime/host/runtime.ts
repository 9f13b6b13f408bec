import type { FastifyInstance, FastifyPluginAsync } from 'fastify';
import type { Registry } from 'prom-client';
import { TransactionCommitter, type Committer } from '../engine/commit.js';
import { ClusterCommitter } from '../engine/cluster-commit.js';
import { clusterSettingProblems, parseRuntimeConfig, type RuntimeConfig } from './config.js';
import { ConfigError } from '../../schemas/env.js';
import { BacklogMonitor } from './backlog.js';
import type { AnyHandler } from '../contract/handler.js';
import type { JobRunner } from '../sources/job-runner.js';
import { JobQueues } from '../sources/job-queues.js';
import { createLogger, type RootLogger } from '../engine/logger.js';
import { queueMetricsText } from './queue-metrics.js';
import { PeriodicRefresh } from '../engine/refresh.js';
import type { RedisReader } from '../contract/redis-reader.js';
import { buildInfo } from './build-info.js';
import { createRegistry, promMetricFactory, runtimeMetrics, type RuntimeMetrics } from '../engine/metrics.js';
import { connectRedis, describeRedis, isReady, waitUntilReady, type RedisClient } from './redis.js';
import { redactSecrets } from './redis-preflight.js';
import { RedisHealth, type RedisFault } from './redis-health.js';
import { selectHandlers } from './registry.js';
import { buildServer, type Readiness } from './server.js';
import { closeServers, listenHealthPorts, type GateHealth } from './health.js';
import { gateRoutesPlugin } from './http/gate-routes.js';
import type { HealthAnswer } from '../contract/answer.js';
import type { HealthProbe } from '../contract/health.js';
import { StreamConsumer } from '../sources/stream-consumer.js';
import { findUnknownSettings, settingsRead } from './unknown-settings.js';
import { withTimeout } from './timeout.js';

type Env = Readonly<Record<string, string | undefined>>;

/** While Redis does not answer at start, the log says so once this often. */
const WAITING_FOR_REDIS_LOG_MS = 60_000;

/** How long a scrape waits for BullMQ's queue counts before leaving them out. */
const QUEUE_METRICS_TIMEOUT_MS = 1000;

/** A handler as the runtime hosts it: its parsed config and its live metrics. */
export interface HostedHandler {
  readonly handler: AnyHandler;
  readonly config: unknown;
  readonly metrics: object;
}

/** What HTTP plugins (status page, dashboard, budget API) may use. */
export interface RuntimeServices {
  readonly config: RuntimeConfig;
  readonly env: Env;
  readonly redis: RedisClient;
  readonly registry: Registry;
  readonly handlers: readonly HostedHandler[];
  /** Every gate of the list the process was started with, hosted here or not (their status sections read Redis). */
  readonly gateList: readonly AnyHandler[];
  /** The process's BullMQ queues; BullMQ is loaded only where a gate needs it (job-queues.ts). */
  readonly jobs: JobQueues;
  readonly logger: RootLogger;
  readonly consumers: readonly { handler: string; source: string; group?: string; consuming: boolean }[];
  /** Pending and lag of each stream handler's group, refreshed every two seconds. */
  readonly backlog: BacklogMonitor;
  /** Why /ready would answer 503 now, structured (the status page's headline reads it). */
  readinessCauses(): ReadinessCauses;
}

/** What keeps the runtime from being ready; all empty while /ready answers 200. */
export interface ReadinessCauses {
  readonly starting: boolean;
  /** Redis's fault as the health probe tracks it, with the time it began. */
  readonly redis: RedisFault | undefined;
  /** Each hosted gate that is not making progress: a fault of its own, or not consuming. */
  readonly gates: readonly { readonly gate: string; readonly cause: string; readonly since: number | null }[];
}

export interface RuntimeOptions {
  readonly env: Env;
  readonly handlers: readonly AnyHandler[];
  readonly logger?: RootLogger;
  readonly now?: () => number;
  readonly httpPlugins?: (services: RuntimeServices) => FastifyPluginAsync[];
  /** Validates the plugins' settings together with the rest, before any connection is opened. */
  readonly checkHttpEnv?: (env: Env, host: string) => void;
  /** Swap the single-node transaction for another commit strategy (Redis Cluster). */
  readonly committerFactory?: (connection: RedisClient, config: RuntimeConfig) => Committer;
}

export interface Runtime {
  readonly config: RuntimeConfig;
  readonly server: FastifyInstance;
  readonly services: RuntimeServices;
  readonly metrics: RuntimeMetrics;
  /** Starts consuming and listening; resolves with the bound address. */
  start(): Promise<string>;
  /** Stops reading, commits the batches in hand, closes the server and connections. */
  stop(): Promise<void>;
  readiness(): Readiness;
}

/** Parses every setting (runtime and each selected handler) and reports all problems together. */
export function loadConfiguration(
  env: Env,
  all: readonly AnyHandler[],
  /** Further settings to validate in the same pass (the HTTP plugins'), throwing ConfigError. */
  checkMore?: (env: Env, host: string) => void,
): { config: RuntimeConfig; hosted: { handler: AnyHandler; config: unknown }[]; ignoredSettings: readonly string[] } {
  const problems: string[] = [];
  const attempt = <T>(parse: () => T): T | undefined => {
    try {
      return parse();
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      problems.push(...error.problems);
      return undefined;
    }
  };
  const config = attempt(() => parseRuntimeConfig(env));
  if (config) problems.push(...clusterSettingProblems(config));
  const selected = attempt(() => selectHandlers(all, env.HANDLERS)) ?? [];
  const hosted = selected.map((handler) => ({ handler, config: attempt(() => handler.config(env)) }));
  // A value no gate can take stops the start even when the gate that reads it runs elsewhere
  // (P28_MODE=Enforce beside HANDLERS=governor): it is a slip in a file some process reads.
  for (const handler of all) if (!selected.includes(handler)) attempt(() => handler.config(env));
  if (checkMore) attempt(() => checkMore(env, config?.HOST ?? env.HOST ?? '127.0.0.1'));
  const known = new Set<string>(['HANDLERS']);
  const parsers: ((e: Env) => unknown)[] = [parseRuntimeConfig, ...all.map((h) => (e: Env) => h.config(e))];
  if (checkMore) parsers.push((e) => checkMore(e, '127.0.0.1'));
  for (const parse of parsers) for (const name of settingsRead(parse, env)) known.add(name);
  const unknown = findUnknownSettings(env, known);
  problems.push(...unknown.typos);
  if (problems.length > 0 || config === undefined) throw new ConfigError([...new Set(problems)]);
  return { config, hosted, ignoredSettings: unknown.ignored };
}

export async function createRuntime(options: RuntimeOptions): Promise<Runtime> {
  const { config, hosted: parsed, ignoredSettings } = loadConfiguration(options.env, options.handlers, options.checkHttpEnv);
  const logger =
    options.logger ??
    createLogger(config.LOG_LEVEL, 'quantum-gates', process.env, {
      format: config.LOG_FORMAT,
      repeatWindowMs: config.LOG_REPEAT_WINDOW_MS,
    });
  if (ignoredSettings.length > 0)
    logger.warn({ variables: ignoredSettings }, 'variables named like settings that no hosted gate reads: ignored');
  const now = options.now ?? Date.now;
  const registry = createRegistry();
  const factory = promMetricFactory(registry);
  const metrics = runtimeMetrics(registry, buildInfo());
  const hosted: HostedHandler[] = parsed.map(({ handler, config: handlerConfig }) => {
    const handlerMetrics = handler.metrics(factory, handlerConfig) as object;
    return { handler, config: handlerConfig, metrics: handlerMetrics };
  });

  const connections: RedisClient[] = [];
  const connect = (role: Parameters<typeof connectRedis>[1], name: string) => {
    const client = connectRedis(config, role, `quantum-gates:${name}`);
    client.on('error', () => undefined); // reconnects are reported by readiness and consumer logs
    connections.push(client);
    return client;
  };
  const commands = connect('commands', 'commands');
  let lastConnectionError: string | undefined;
  commands.on('error', (error: Error) => (lastConnectionError = error.message));
  commands.on('ready', () => metrics.redisUp.set(1));
  commands.on('close', () => metrics.redisUp.set(0));
  const bullConnection = connect('bullmq', 'bullmq');
  const health = new RedisHealth({
    client: commands,
    probeKey: `quantum:gates:health:${config.CONSUMER_NAME}`,
    stallMs: config.REDIS_STALL_MS,
    intervalMs: Math.min(1000, config.REDIS_STALL_MS),
    logger,
    now,
  });
  const jobs = new JobQueues(bullConnection, config.BULLMQ_PREFIX, (queue, error) =>
    logger.warn({ queue, err: error.message }, 'queue error'),
  );
  // BullMQ and the job runner are loaded only for a gate fed by a queue or a schedule; a process
  // of stream gates alone loads BullMQ on its first ctx.schedule, if ever (job-queues.ts).
  const jobSources = hosted.some((h) => h.handler.trigger.kind !== 'stream')
    ? await Promise.all([import('../sources/job-runner.js'), jobs.load()])
    : undefined;
  const makeCommitter = (connection: RedisClient) =>
    options.committerFactory?.(connection, config) ??
    (config.REDIS_CLUSTER_NODES
      ? new ClusterCommitter(connection, config.STREAM_MAXLEN)
      : new TransactionCommitter(connection, config.STREAM_MAXLEN));

  const workers = hosted.map((h): StreamConsumer | JobRunner => {
    const committerConnection = connect('transactions', `${h.handler.name}:commit`);
    const common = {
      handler: h.handler,
      handlerConfig: h.config,
      handlerMetrics: h.metrics,
      config,
      commands,
      committer: makeCommitter(committerConnection),
      metrics,
      logger,
      now,
      health,
    };
    if (h.handler.trigger.kind === 'stream') {
      return new StreamConsumer({
        ...common,
        reader: connect('dedicated', `${h.handler.name}:read`),
        committerConnection,
        jobs,
        // The cursor hash lives in another slot than the stream: only where one script can reach both.
        recordsCursor: !config.REDIS_CLUSTER_NODES && options.committerFactory === undefined,
      });
    }
    // Loaded above whenever a hosted gate's trigger is not a stream.
    const [{ JobRunner: Runner }, bullJobs] = jobSources!;
    return new Runner({ ...common, bullConnection, jobs: bullJobs });
  });

  const consumerStatus = () =>
    workers.map((w, i) => {
      const handler = hosted[i]!.handler.name;
      return w instanceof StreamConsumer
        ? { handler, source: w.stream, group: w.group, consuming: w.isConsuming }
        : { handler, source: `bullmq:${w.queueName}`, consuming: w.isConsuming };
    });
  const services: RuntimeServices = {
    config,
    env: options.env,
    redis: commands,
    registry,
    handlers: hosted,
    gateList: options.handlers,
    jobs,
    logger,
    get backlog() {
      return backlog;
    },
    get consumers() {
      return consumerStatus();
    },
    readinessCauses: () => readinessCauses(),
  };

  // The handlers' read-only Redis: the command connection, as stream-consumer.ts gives handlers.
  const refresh = new PeriodicRefresh(hosted, commands as unknown as RedisReader, logger, now);

  const backlog = new BacklogMonitor(
    commands,
    () =>
      workers.flatMap((w, i) =>
        w instanceof StreamConsumer ? [{ handler: hosted[i]!.handler.name, stream: w.stream, group: w.group }] : [],
      ),
    { pending: metrics.consumerPending, lag: metrics.consumerLag },
  );

  let started = false;
  const gateFaults = () =>
    workers.flatMap((w, i) => {
      const fault = w.fault(config.HEARTBEAT_TIMEOUT_MS);
      return fault ? [[hosted[i]!.handler.name, fault] as const] : [];
    });
  const readinessCauses = (): ReadinessCauses => ({
    starting: !started,
    redis: health.fault,
    gates: [
      ...gateFaults().map(([gate, fault]) => ({ gate, cause: fault.cause, since: fault.since })),
      ...consumerStatus()
        .filter((c) => !c.consuming)
        .map((c) => ({ gate: c.handler, cause: 'not consuming', since: null })),
    ],
  });
  const readiness = (): Readiness => {
    const redisFault = health.fault;
    const redisReady = isReady(commands) && redisFault === undefined;
    const consumers = consumerStatus();
    const allConsuming = consumers.every((c) => c.consuming);
    const faults = gateFaults();
    const backlogChecks = Object.fromEntries(
      backlog.snapshot.flatMap((b) => [
        [`pending:${b.handler}`, b.pending],
        [`lag:${b.handler}`, b.lag ?? -1],
      ]),
    );
    // The first reason wins the headline: Redis's state explains the gates' when both are off.
    const causes = [
      ...(started ? [] : ['starting']),
      ...(redisFault ? [`redis ${redisFault.cause}: ${redisFault.detail} (since ${new Date(redisFault.since).toISOString()})`] : []),
      ...faults.map(([name, fault]) => `${name}: ${fault.cause}`),
      ...consumers.filter((c) => !c.consuming).map((c) => `${c.handler}: not consuming`),
    ];
    return {
      ready: causes.length === 0,
      checks: {
        ...(causes.length > 0 ? { cause: causes[0]!, causes: causes.join('; ') } : {}),
        redis: redisReady,
        consumers: allConsuming && faults.length === 0,
        ...Object.fromEntries(consumers.map((c) => [`consumer:${c.handler}`, c.consuming && !faults.some(([name]) => name === c.handler)])),
        ...backlogChecks,
      },
    };
  };

  const probeOf = (h: (typeof hosted)[number], i: number): HealthProbe<unknown> => {
    const worker = workers[i]!;
    return {
      config: h.config,
      ping: () => withTimeout(commands.ping(), healthPingTimeoutMs, 'Redis did not answer PING').then(() => undefined),
      metrics: async (): Promise<HealthAnswer> => ({ status: 200, contentType: registry.contentType, body: await registry.metrics() }),
      metricValue: async (name) =>
        (await registry.getSingleMetric(name)?.get())?.values.find((v) => Object.keys(v.labels).length === 0)?.value,
      metricSeries: async (name) =>
        ((await registry.getSingleMetric(name)?.get())?.values ?? []).map((v) => ({
          labels: v.labels as Record<string, string | number>,
          value: v.value,
        })),
      get pending() {
        return backlog.snapshot.find((b) => b.handler === h.handler.name)?.pending ?? 0;
      },
      get lastLoopMs() {
        return worker instanceof StreamConsumer ? worker.lastLoopMs : 0;
      },
    };
  };
  const gateHealth: GateHealth[] = hosted.flatMap((h, i) => {
    const declared = h.handler.http?.health;
    if (!declared) return [];
    const probe = probeOf(h, i);
    return [{ name: h.handler.name, answer: () => declared.answer(probe), port: declared.port?.(h.config) }];
  });
  // A gate's own /metrics text only where it stands for its original service alone (see MetricsDeclaration).
  const onlyGate = hosted.length === 1 ? hosted[0]! : undefined;
  const ownMetrics = onlyGate?.handler.http?.metrics;
  const originalMetrics = onlyGate && ownMetrics ? () => ownMetrics.answer(probeOf(onlyGate, 0)) : undefined;
  let healthServers: Awaited<ReturnType<typeof listenHealthPorts>> = [];

  const server = await buildServer({
    registry,
    moreMetrics: () =>
      queueMetricsText(jobs.allQueues(), {
        registered: (name) => registry.getSingleMetric(name) !== undefined,
        timeoutMs: QUEUE_METRICS_TIMEOUT_MS,
      }),
    readiness,
    health: gateHealth,
    ...(originalMetrics ? { originalMetrics } : {}),
    maxEventLoopDelayMs: config.MAX_EVENT_LOOP_DELAY_MS,
    idleTimeoutMs: config.HTTP_IDLE_TIMEOUT_MS,
    maxInFlight: config.HTTP_MAX_IN_FLIGHT,
    plugins: [gateRoutesPlugin(services), ...(options.httpPlugins?.(services) ?? [])],
  });

  const stopped = new AbortController();
  /**
   * A Redis that is not up yet when the gates start is waited for like one still loading its
   * data: the connections retry with backoff, /ready answers 503 (starting), and one line a
   * minute says what the gates wait for and why.
   */
  const waitForRedisAtStart = async () => {
    let saidAt: number | undefined;
    while (!isReady(commands) && !stopped.signal.aborted) {
      if (saidAt === undefined || now() - saidAt >= WAITING_FOR_REDIS_LOG_MS) {
        saidAt = now();
        logger.warn(
          { redis: describeRedis(config), cause: redactSecrets(config, lastConnectionError ?? `connection ${commands.status}`) },
          'waiting for Redis to answer: the gates start when it does; /ready answers 503 until then',
        );
      }
      await waitUntilReady(commands, AbortSignal.any([stopped.signal, AbortSignal.timeout(WAITING_FOR_REDIS_LOG_MS)]));
    }
    if (saidAt !== undefined && !stopped.signal.aborted) logger.info({ redis: describeRedis(config) }, 'Redis answers: starting the gates');
  };

  return {
    config,
    server,
    services,
    metrics,
    readiness,
    async start() {
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
        () => listenHealthPorts(gateHealth, config.HOST),
        `a gate's health port (${gateHealth.flatMap((g) => (g.port === undefined ? [] : [`${g.name}: ${g.port}`])).join(', ')})`,
        config.HOST,
      );
      health.start();
      await waitForRedisAtStart();
      if (stopped.signal.aborted) return address;
      await startAll(workers.map((worker, i) => ({ gate: hosted[i]!.handler.name, start: () => worker.start() })));
      await health.probeNow();
      backlog.start();
      refresh.start();
      started = true;
      logger.info({ address }, 'listening');
      return address;
    },
    async stop() {
      stopped.abort();
      logger.info('stopping: draining in-flight batches');
      backlog.stop();
      health.stop();
      await Promise.all([refresh.stop(), ...workers.map((w) => w.stop())]);
      await server.close();
      await closeServers(healthServers);
      await jobs.close();
      // A connection that never came up (Redis down since the start) has nothing to flush, and
      // its QUIT would wait in the offline queue for a Redis that may never answer.
      await Promise.all(connections.map((c) => (isReady(c) ? c.quit().catch(() => c.disconnect()) : c.disconnect())));
      logger.info('stopped');
    },
  };
}

/**
 * Starts every gate at once: each start is a few round trips to Redis (its consumer group, its
 * scheduler, its BullMQ worker's connections), so one after another the start-up paid them all
 * in sequence. Every start settles before this returns, so a stop after a failed start finds no
 * start still under way; the error names each gate that failed.
 */
async function startAll(starts: readonly { gate: string; start: () => Promise<void> }[]): Promise<void> {
  const settled = await Promise.allSettled(starts.map(({ start }) => start()));
  const failed = settled.flatMap((result, i) =>
    result.status === 'rejected' ? [{ gate: starts[i]!.gate, error: result.reason as unknown }] : [],
  );
  if (failed.length === 0) return;
  const message = failed
    .map(({ gate, error }) => `${gate} did not start: ${error instanceof Error ? error.message : String(error)}`)
    .join('; ');
  throw new Error(message, { cause: failed[0]!.error });
}

/**
 * Binds a listener, turning the usual refusals into a start-up problem that names the setting to
 * change rather than a stack printed after every gate has started.
 */
async function bindNamingSetting<T>(bind: () => Promise<T>, setting: string, host: string, port?: number): Promise<T> {
  try {
    return await bind();
  } catch (error) {
    const where = port === undefined ? host : `${host}:${port}`;
    const why: Record<string, string> = {
      EADDRINUSE: `${where} is already in use by another process: choose a free port or stop that process`,
      EACCES: `${where} needs privileges this process lacks: choose a port above 1023`,
      EADDRNOTAVAIL: `${host} is not an address of this machine (HOST)`,
    };
    const reason = why[(error as NodeJS.ErrnoException).code ?? ''];
    if (reason === undefined) throw error;
    throw new ConfigError([`${setting}: ${reason}`]);
  }
}

/** A health check answers within this, Redis or not (ioredis queues commands while reconnecting). */
const healthPingTimeoutMs = 1000;
