import type { Registry } from 'prom-client';
import type { HealthAnswer, HttpAnswer } from '../contract/answer.js';
import type { HealthProbe } from '../contract/health.js';
import type { BacklogMonitor } from './backlog.js';
import type { HostedGates, HostedHandler } from './gates.js';
import type { GateHealth } from './health.js';
import type { RedisClient } from './redis.js';
import { withTimeout } from './timeout.js';

/** A health check answers within this, Redis or not (ioredis queues commands while reconnecting). */
const HEALTH_PING_TIMEOUT_MS = 1000;

export interface ProbeSources {
  readonly hosted: readonly HostedHandler[];
  readonly gates: HostedGates;
  readonly commands: RedisClient;
  readonly registry: Registry;
  readonly backlog: BacklogMonitor;
}

/**
 * The gates' declared /health answers and, where one gate stands for its original service alone,
 * its own /metrics text (see MetricsDeclaration), each given the probe its declaration reads.
 */
export function gateProbes(sources: ProbeSources): { health: GateHealth[]; originalMetrics?: () => Promise<HttpAnswer> } {
  const { hosted, registry } = sources;
  const probeOf = (h: HostedHandler, i: number): HealthProbe<unknown> => ({
    config: h.config,
    ping: () => withTimeout(sources.commands.ping(), HEALTH_PING_TIMEOUT_MS, 'Redis did not answer PING').then(() => undefined),
    metrics: async (): Promise<HealthAnswer> => ({ status: 200, contentType: registry.contentType, body: await registry.metrics() }),
    metricValue: async (name) =>
      (await registry.getSingleMetric(name)?.get())?.values.find((v) => Object.keys(v.labels).length === 0)?.value,
    metricSeries: async (name) =>
      ((await registry.getSingleMetric(name)?.get())?.values ?? []).map((v) => ({
        labels: v.labels as Record<string, string | number>,
        value: v.value,
      })),
    get pending() {
      return sources.backlog.snapshot.find((b) => b.handler === h.handler.name)?.pending ?? 0;
    },
    get lastLoopMs() {
      return sources.gates.lastLoopMs(i);
    },
  });
  const health = hosted.flatMap((h, i): GateHealth[] => {
    const declared = h.handler.http?.health;
    if (!declared) return [];
    const probe = probeOf(h, i);
    return [{ name: h.handler.name, answer: () => declared.answer(probe), port: declared.port?.(h.config) }];
  });
  const onlyGate = hosted.length === 1 ? hosted[0]! : undefined;
  const ownMetrics = onlyGate?.handler.http?.metrics;
  return onlyGate && ownMetrics ? { health, originalMetrics: () => ownMetrics.answer(probeOf(onlyGate, 0)) } : { health };
}
