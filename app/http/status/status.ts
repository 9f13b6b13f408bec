import { hostname } from 'node:os';
import {
  isReady,
  readBacklog,
  withTimeout,
  type AnyHandler,
  type AnyStatusSection,
  type GroupBacklog,
  type ReadinessCauses,
  type RedisReader,
  type RuntimeServices,
} from '../../../runtime/host/index.js';
import type { AnySectionView } from '../../../schemas/status/views.js';
import { buildInfo, type BuildInfo } from '../../build-info.js';
import { redisAddress, redisIdentity } from '../../redis-identity.js';
import { collapseFailures, type RedisOutage, type SectionFailure } from './status-errors.js';
import { statusHeadline, type Headline } from './status-headline.js';
import { GateTrends } from './status-trends.js';
import { RUNTIME_STATUS_KEYS } from './status-keys.js';
import { shadowSection } from '../../shadow/status-section.js';
import { DEFAULT_PRICE_MAX_SKEW_SEC } from '../../../handlers/positions/bounds.js';

/**
 * The JSON behind GET /status and the status page. snake_case like the streams' own fields.
 * Counts come from this process's metrics (since it started); everything else is read from Redis
 * and so is the same whichever replica answers. The runtime's own parts are named here; each
 * gate's status sections (heat, budgets, kill_switch...) add a key of their own, whose value the
 * gate declares (runtime/contract/status-section.ts): null when it could not be read.
 */
export type GatesStatus = RuntimeStatus & { readonly [section: string]: unknown };

export interface RuntimeStatus {
  /** Milliseconds since the epoch at which this status was computed. */
  readonly generated_at: number;
  /** OK / DEGRADED / BLOCKING and why (status-headline.ts). */
  readonly headline: Headline;
  /** What is running: package version and the commit it was built from. */
  readonly build: BuildInfo | null;
  /** Which process answered. */
  readonly instance: StatusInstance | null;
  readonly redis_ready: boolean;
  /** This host's clock against Redis's, which decisions read (absent where no runtime answers). */
  readonly clock?: ClockStatus | null;
  readonly gates: readonly GateStatus[];
  readonly dead_letter: { readonly stream: string; readonly length: number } | null;
  /** Redis's outage, when it is why sections could not be read: one cause, with the time it began. */
  readonly redis_fault: RedisOutage | null;
  /** One line per cause of sections that could not be read (those sections are null). */
  readonly errors: readonly string[];
}

export interface StatusInstance {
  /** The consumer name this process reads its groups as. */
  readonly name: string;
  readonly hostname: string;
  readonly port: number;
  /** The Redis this process was told to use, as configured (no password). */
  readonly redis?: string;
  /** That Redis's identity (redis-identity.ts), null when it could not be read. */
  readonly redis_id?: string | null;
}

export interface GateStatus extends GateInfo {
  /** The stream, or bullmq:{queue}. */
  readonly source: string;
  readonly group: string | null;
  readonly consuming: boolean;
  /** Messages finished, whatever the outcome. */
  readonly processed: number;
  readonly handled: number;
  /** Finished by the failure policy's fallback after maxAttempts failed tries. */
  readonly failed: number;
  readonly dead_lettered: number;
  readonly retries: number;
  /** Consumer-group entries delivered and not yet acknowledged (stream handlers). */
  readonly pending: number | null;
  /** Consumer-group entries not yet delivered; null when unknown or not a stream handler. */
  readonly lag: number | null;
}

/** The part of prom-client's getMetricsAsJSON() the status reads. */
export interface MetricJson {
  readonly name: string;
  readonly values: readonly { readonly labels: Readonly<Partial<Record<string, string | number>>>; readonly value: number }[];
}

/** The Redis reads the status needs: the gates' sections read as a gate reads; the dead letters' length. ioredis satisfies it. */
export interface StatusRedis extends RedisReader {
  xlen(key: string): Promise<number>;
}

/** A gate's status section as this process reads it. */
export interface HostedSection {
  readonly gate: string;
  readonly section: AnyStatusSection<unknown>;
  /** The gate's parsed settings where this process hosts it; undefined where it does not. */
  readonly config: unknown;
}

export interface GateInfo {
  readonly name: string;
  readonly description: string;
  /** shadow or enforce; null for handlers without the distinction. */
  readonly mode: 'shadow' | 'enforce' | null;
  readonly trigger: 'stream' | 'schedule' | 'queue';
}

export interface ConsumerInfo {
  readonly handler: string;
  readonly source: string;
  readonly group?: string;
  readonly consuming: boolean;
}

export interface ClockStatus {
  /** This host's clock minus Redis's TIME, as last measured; null before Redis first answered. */
  readonly host_ahead_ms: number | null;
  /** PRICE_MAX_SKEW_SEC: an offset beyond it is DEGRADED (status-headline.ts). */
  readonly max_skew_sec: number;
}

export interface StatusSources {
  readonly redis: StatusRedis;
  readonly gates: readonly GateInfo[];
  consumers(): readonly ConsumerInfo[];
  backlog(): Promise<readonly GroupBacklog[]>;
  metrics(): Promise<readonly MetricJson[]>;
  redisReady(): boolean;
  /** Redis's clock, as decisions read it. */
  now(): number;
  clock?(): ClockStatus;
  readonly streams: { readonly deadLetter: string };
  /** The gates' sections, in the gate list's order. */
  readonly sections: readonly HostedSection[];
  /** The process's environment, as the sections see it. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Why /ready would answer 503 (the headline's blocking causes); absent without a runtime. */
  readinessCauses?(): ReadinessCauses;
  /** Remembers the gates' numbers, so the headline can say what failed or grew recently. */
  readonly trends?: GateTrends;
  readonly build?: BuildInfo;
  readonly instance?: StatusInstance;
  /** The identity of the Redis this process reads (redis-identity.ts). */
  redisIdentity?(): Promise<string>;
}

export interface StatusOptions {
  /** A Redis read slower than this fails its section rather than hang the page. */
  readonly timeoutMs: number;
  /** GET /status answers from a read at most this old (STATUS_CACHE_MS); 0 reads on every request. */
  readonly cacheMs?: number;
}

export const defaultStatusOptions: StatusOptions = { timeoutMs: 2000 };

export async function collectStatus(sources: StatusSources, options: StatusOptions = defaultStatusOptions): Promise<GatesStatus> {
  const failures: SectionFailure[] = [];
  // Failures are told in the order the parts were asked for, not the order they happened to fail in.
  const requested: string[] = [];
  const section = async <T>(name: string, read: () => Promise<T>): Promise<T | null> => {
    requested.push(name);
    try {
      return await withTimeout(read(), options.timeoutMs);
    } catch (error) {
      failures.push({ section: name, message: errorMessage(error) });
      return null;
    }
  };
  // One read per part name, shared by every section that names it (two sections of one stream).
  const parts = new Map<string, Promise<unknown>>();
  const part = <T>(name: string, read: () => Promise<T>): Promise<T | null> => {
    let pending = parts.get(name) as Promise<T | null> | undefined;
    if (pending === undefined) parts.set(name, (pending = section(name, read)));
    return pending;
  };
  const { redis } = sources;
  const [metrics, backlog, sectionValues, dlqLength, redisId] = await Promise.all([
    section('metrics', () => sources.metrics()),
    section('consumer groups', () => sources.backlog()),
    readSections(sources, part, (name, error) => {
      requested.push(name);
      failures.push({ section: name, message: errorMessage(error) });
    }),
    section('dead letters', () => redis.xlen(sources.streams.deadLetter)),
    sources.redisIdentity ? withTimeout(sources.redisIdentity(), options.timeoutMs).catch(() => null) : Promise.resolve(null),
  ]);
  failures.sort((a, b) => requested.indexOf(a.section) - requested.indexOf(b.section));

  const now = sources.now();
  const clock = sources.clock?.() ?? null;
  const readiness = sources.readinessCauses?.();
  const collapsed = collapseFailures(failures, readiness?.redis, sources.instance?.redis);
  const gates = gateRows(sources.gates, sources.consumers(), countsByHandler(metrics ?? []), backlog ?? []);
  const trends =
    sources.trends?.observe(
      now,
      gates.map((g) => ({
        name: g.name,
        failed: g.failed,
        dead_lettered: g.dead_lettered,
        backlog: g.pending === null ? null : g.pending + (g.lag ?? 0),
      })),
    ) ?? [];
  const deadLetter = dlqLength === null ? null : { stream: sources.streams.deadLetter, length: dlqLength };
  const headline = statusHeadline({
    now,
    dead_letter: deadLetter,
    sections: sectionValues.flatMap(({ section: s, value }) => s.headline?.(value, now) ?? []),
    gates,
    readiness,
    redis: collapsed.redis,
    unread: collapsed.unread,
    trends,
    clock,
  });

  return {
    generated_at: now,
    headline,
    build: sources.build ?? null,
    instance: sources.instance && sources.redisIdentity ? { ...sources.instance, redis_id: redisId } : (sources.instance ?? null),
    redis_ready: sources.redisReady(),
    clock,
    gates,
    ...Object.fromEntries(sectionValues.map(({ section: s, value }) => [s.key, value])),
    dead_letter: deadLetter,
    redis_fault: collapsed.redis,
    errors: [...collapsed.lines],
  };
}

/** One key of the status as the gates declared it: the first declaration of the key, and its value (merged across gates). */
export interface SectionValue {
  readonly section: AnyStatusSection<unknown>;
  readonly value: unknown;
}

/**
 * Reads every declared section at once. Declarations of the same key are merged by the first
 * one's merge (null values left out; null when all are); hostedSections refuses a second one
 * without a merge, and the first stands here.
 */
export async function readSections(
  sources: Pick<StatusSources, 'redis' | 'sections' | 'now' | 'env'>,
  part: <T>(name: string, read: () => Promise<T>) => Promise<T | null>,
  /** A reader that throws outside ctx.read: reported under its gate and key, its value null. */
  failed: (name: string, error: unknown) => void,
): Promise<SectionValue[]> {
  const byKey = new Map<string, HostedSection[]>();
  for (const hosted of sources.sections) {
    const same = byKey.get(hosted.section.key) ?? [];
    if (same.length === 0 || same[0]!.section.merge) same.push(hosted);
    byKey.set(hosted.section.key, same);
  }
  const env = sources.env ?? {};
  return Promise.all(
    [...byKey.values()].map(async (declared) => {
      const first = declared[0]!.section;
      const values = await Promise.all(
        declared.map(async ({ gate, section, config }) => {
          try {
            return await section.read({ redis: sources.redis, config, env, now: sources.now, read: part });
          } catch (error) {
            failed(`${gate} ${section.key}`, error);
            return null;
          }
        }),
      );
      const read = values.filter((v) => v !== null && v !== undefined);
      const value = read.length === 0 ? null : first.merge ? first.merge(read) : read[0];
      return { section: first, value };
    }),
  );
}

/** What the page and the CLI need to draw a gate's section they know nothing else about: GET /status/sections. */
export interface SectionDescription {
  readonly key: string;
  readonly title: string;
  readonly shortTitle?: string;
  readonly order?: number;
  /** The gates that declare it. */
  readonly gates: readonly string[];
  readonly views: readonly AnySectionView[];
}

/** One description per key, the first declaration's (the others of a key only merge their values). */
export function describeSections(sections: readonly HostedSection[]): SectionDescription[] {
  const byKey = new Map<string, SectionDescription & { gates: string[] }>();
  for (const { gate, section } of sections) {
    const known = byKey.get(section.key);
    if (known) known.gates.push(gate);
    else
      byKey.set(section.key, {
        key: section.key,
        title: section.title,
        ...(section.shortTitle === undefined ? {} : { shortTitle: section.shortTitle }),
        ...(section.order === undefined ? {} : { order: section.order }),
        gates: [gate],
        views: section.views ?? [],
      });
  }
  return [...byKey.values()];
}

/** The status's own keys, which no gate's section may take. */
// Every key status-keys.ts lists is one of the status's own (a key renamed here fails to compile there).
const RUNTIME_KEYS: ReadonlySet<string> = new Set<keyof RuntimeStatus>(RUNTIME_STATUS_KEYS);

/**
 * Every section the gates of the list declare, hosted here or not, with the hosted ones' settings.
 * Throws (the process does not start) for a key the status already has, or one declared twice
 * without a merge: either would hide a value without a word.
 */
export function hostedSections(
  gateList: readonly AnyHandler[],
  hosted: readonly { handler: AnyHandler; config: unknown }[],
): HostedSection[] {
  const sections = gateList.flatMap((handler) =>
    (handler.http?.status ?? []).map((section: AnyStatusSection<unknown>) => ({
      gate: handler.name,
      section,
      config: hosted.find((h) => h.handler === handler)?.config,
    })),
  );
  sections.forEach(({ gate, section }, i) => {
    if (RUNTIME_KEYS.has(section.key)) throw new Error(`${gate}: status section "${section.key}" takes a key of the status's own`);
    const first = sections.find((s) => s.section.key === section.key)!;
    if (first !== sections[i] && !first.section.merge) {
      throw new Error(`${gate}: status section "${section.key}" is declared by ${first.gate} too, without a merge`);
    }
  });
  return sections;
}

export interface HandlerCounts {
  readonly processed: number;
  readonly handled: number;
  readonly fallback: number;
  readonly deadLettered: number;
  readonly retries: number;
}

const emptyCounts: HandlerCounts = { processed: 0, handled: 0, fallback: 0, deadLettered: 0, retries: 0 };

/** Sums the runtime's per-handler counters out of prom-client's JSON. */
export function countsByHandler(metrics: readonly MetricJson[]): Map<string, HandlerCounts> {
  const counts = new Map<string, { processed: number; handled: number; fallback: number; deadLettered: number; retries: number }>();
  const of = (handler: string) => {
    let c = counts.get(handler);
    if (!c) counts.set(handler, (c = { ...emptyCounts }));
    return c;
  };
  for (const metric of metrics) {
    for (const { labels, value } of metric.values) {
      const handler = labels.handler;
      if (typeof handler !== 'string' || !Number.isFinite(value)) continue;
      if (metric.name === 'quantum_gates_messages_total') {
        const c = of(handler);
        c.processed += value;
        if (labels.outcome === 'handled') c.handled += value;
        if (labels.outcome === 'fallback') c.fallback += value;
      } else if (metric.name === 'quantum_gates_dead_letters_total') {
        of(handler).deadLettered += value;
      } else if (metric.name === 'quantum_gates_retries_total') {
        of(handler).retries += value;
      }
    }
  }
  return counts;
}

export function gateRows(
  gates: readonly GateInfo[],
  consumers: readonly ConsumerInfo[],
  counts: ReadonlyMap<string, HandlerCounts>,
  backlog: readonly GroupBacklog[],
): GateStatus[] {
  return gates.map((gate) => {
    const consumer = consumers.find((c) => c.handler === gate.name);
    const group = backlog.find((b) => b.handler === gate.name);
    const c = counts.get(gate.name) ?? emptyCounts;
    return {
      name: gate.name,
      description: gate.description,
      mode: gate.mode,
      trigger: gate.trigger,
      source: consumer?.source ?? '',
      group: consumer?.group ?? null,
      consuming: consumer?.consuming ?? false,
      processed: c.processed,
      handled: c.handled,
      failed: c.fallback,
      dead_lettered: c.deadLettered,
      retries: c.retries,
      pending: group ? group.pending : null,
      lag: group ? group.lag : null,
    };
  });
}

/** PRICE_MAX_SKEW_SEC as the gates read it (validated at start; its default where unset). */
function priceMaxSkewSec(env: Readonly<Record<string, string | undefined>>): number {
  const set = Number(env.PRICE_MAX_SKEW_SEC);
  return env.PRICE_MAX_SKEW_SEC !== undefined && env.PRICE_MAX_SKEW_SEC !== '' && Number.isFinite(set) ? set : DEFAULT_PRICE_MAX_SKEW_SEC;
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Wires the status to a running runtime. */
export function statusSourcesFrom(services: RuntimeServices): StatusSources {
  return {
    redis: services.redis,
    gates: services.handlers.map(({ handler, config }) => ({
      name: handler.name,
      description: handler.description,
      mode: handler.mode?.(config) ?? null,
      trigger: handler.trigger.kind,
    })),
    consumers: () => services.consumers,
    backlog: () => readBacklog(services.redis, services.consumers),
    metrics: () => services.registry.getMetricsAsJSON(),
    redisReady: () => isReady(services.redis),
    now: () => services.redisClock.now(),
    clock: () => ({ host_ahead_ms: services.redisClock.hostAheadMs ?? null, max_skew_sec: priceMaxSkewSec(services.env) }),
    streams: { deadLetter: services.config.DLQ_STREAM },
    // The shadow's section (app/shadow) after the gates': its records are under quantum:shadow:, in the same Redis.
    sections: [
      ...hostedSections(services.gateList, services.handlers),
      { gate: 'shadow', section: shadowSection as AnyStatusSection<unknown>, config: undefined },
    ],
    env: services.env,
    readinessCauses: () => services.readinessCauses(),
    trends: new GateTrends(services.redisClock.now()),
    build: buildInfo(),
    instance: {
      name: services.config.CONSUMER_NAME,
      hostname: hostname(),
      port: services.config.PORT,
      redis: redisAddress(services.config),
    },
    redisIdentity: () => redisIdentity(services.redis),
  };
}
