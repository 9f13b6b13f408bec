import type { BacklogMonitor } from './backlog.js';
import type { HostedGates } from './gates.js';
import { isReady, type RedisClient } from './redis.js';
import type { RedisFault, RedisHealth } from './redis-health.js';
import type { Readiness } from './server.js';

/** What keeps the runtime from being ready; all empty while /ready answers 200. */
export interface ReadinessCauses {
  readonly starting: boolean;
  /** Redis's fault as the health probe tracks it, with the time it began. */
  readonly redis: RedisFault | undefined;
  /** Each hosted gate that is not making progress: a fault of its own, or not consuming. */
  readonly gates: readonly { readonly gate: string; readonly cause: string; readonly since: number | null }[];
}

export interface ReadinessSources {
  started(): boolean;
  readonly commands: RedisClient;
  readonly health: RedisHealth;
  readonly gates: HostedGates;
  readonly backlog: BacklogMonitor;
}

/** Why the runtime is not ready, structured (the status page's headline reads it). */
export function readinessCauses({ started, health, gates }: ReadinessSources): ReadinessCauses {
  return {
    starting: !started(),
    redis: health.fault,
    gates: [
      ...gates.faults().map(([gate, fault]) => ({ gate, cause: fault.cause, since: fault.since })),
      ...gates
        .consumers()
        .filter((c) => !c.consuming)
        .map((c) => ({ gate: c.handler, cause: 'not consuming', since: null })),
    ],
  };
}

/** /ready's answer: ready once started, Redis answers and every gate consumes without a fault. */
export function readiness({ started, commands, health, gates, backlog }: ReadinessSources): Readiness {
  const redisFault = health.fault;
  const redisReady = isReady(commands) && redisFault === undefined;
  const consumers = gates.consumers();
  const allConsuming = consumers.every((c) => c.consuming);
  const faults = gates.faults();
  const backlogChecks = Object.fromEntries(
    backlog.snapshot.flatMap((b) => [
      [`pending:${b.handler}`, b.pending],
      [`lag:${b.handler}`, b.lag ?? -1],
    ]),
  );
  // The first reason wins the headline: Redis's state explains the gates' when both are off.
  const causes = [
    ...(started() ? [] : ['starting']),
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
}
