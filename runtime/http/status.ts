import { readBudgetHash } from '../../schemas/budget.js';
import { epochMs } from '../../domain/epoch.js';
import { killSwitchBlocks } from '../../domain/kill-switch.js';
import { keys, streams } from '../../schemas/keys.js';
import { readBacklog, type GroupBacklog } from '../backlog.js';
import { isReady } from '../redis.js';
import type { RuntimeServices } from '../runtime.js';
import { parseGovernorEvent, type GovernorEvent } from '../../schemas/governor-event.js';
import { fieldsToRecord, parseNumber } from '../../schemas/fields.js';
import { calibratedEntryReader } from '../../schemas/heat-gate.js';
import { outcomesStatus, type OutcomesStatus } from './status-outcomes.js';
import { hostname } from 'node:os';
import { buildInfo, type BuildInfo } from '../build-info.js';
import type { ReadinessCauses } from '../runtime.js';
import { collapseFailures, type RedisOutage, type SectionFailure } from './status-errors.js';
import { statusHeadline, type Headline } from './status-headline.js';
import { GateTrends } from './status-trends.js';

/**
 * The JSON behind GET /status and the status page. snake_case like the streams' own fields.
 * Counts come from this process's metrics (since it started); everything else is read from Redis
 * and so is the same whichever replica answers.
 */
export interface GatesStatus {
  /** Milliseconds since the epoch at which this status was computed. */
  readonly generated_at: number;
  /** OK / DEGRADED / BLOCKING and why (status-headline.ts). */
  readonly headline: Headline;
  /** What is running: package version and the commit it was built from. */
  readonly build: BuildInfo | null;
  /** Which process answered. */
  readonly instance: StatusInstance | null;
  readonly redis_ready: boolean;
  readonly gates: readonly GateStatus[];
  readonly heat: HeatStatus | null;
  readonly budgets: readonly BudgetRow[] | null;
  readonly kill_switch: { readonly active: boolean; readonly value: string | null } | null;
  readonly disarm: { readonly active: boolean; readonly detail: string | null } | null;
  /** Newest first: heat-gate decisions (kept and downgraded) and governor permits and blocks. */
  readonly decisions: readonly Decision[] | null;
  readonly dead_letter: { readonly stream: string; readonly length: number } | null;
  /** Cumulative counterfactual PnL of the decisions that changed exposure (docs/outcomes.md). */
  readonly outcomes: OutcomesStatus | null;
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
}

export interface GateStatus {
  readonly name: string;
  readonly description: string;
  /** shadow or enforce; null for handlers without the distinction. */
  readonly mode: 'shadow' | 'enforce' | null;
  readonly trigger: 'stream' | 'schedule' | 'queue';
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

export interface HeatPoint {
  readonly at: number;
  readonly heat: number;
  readonly bucket: string | null;
}

export interface HeatStatus {
  readonly value: number | null;
  readonly bucket: string | null;
  readonly updated_at: number | null;
  readonly thresholds: { readonly min: number; readonly max: number } | null;
  /** Oldest first, from the calibrated stream. */
  readonly history: readonly HeatPoint[];
}

export interface BudgetRow {
  readonly symbol: string;
  readonly budget_usd: number | null;
  readonly stress_factor: number | null;
  readonly position_notional_usd: number | null;
  /** |position notional| above its budget: what the budget engine reports as a violation. */
  readonly over_budget: boolean;
  readonly mode: string | null;
  /** Milliseconds since the epoch of the budget computation. */
  readonly computed_at: number | null;
}

export interface Decision {
  readonly at: number;
  readonly kind: 'downgrade' | 'kept' | 'permit' | 'block' | 'event';
  readonly gate: 'heat-gate' | 'governor';
  readonly symbol: string | null;
  readonly plan_id: string | null;
  /** FULL_CLOSE → PARTIAL_25 for a downgrade, the action for a kept one; the plan's action for the governor. */
  readonly action: string | null;
  readonly reason: string | null;
  /** Heat and bucket of a downgrade, or the governor's event name. */
  readonly detail: string | null;
  readonly mode: string | null;
  readonly id: string;
}

type StreamEntry = [id: string, fields: string[]];

/** The part of prom-client's getMetricsAsJSON() the status reads. */
export interface MetricJson {
  readonly name: string;
  readonly values: readonly { readonly labels: Readonly<Partial<Record<string, string | number>>>; readonly value: number }[];
}

/** The Redis reads the status needs; ioredis satisfies it, a test may fake it. */
export interface StatusRedis {
  get(key: string): Promise<string | null>;
  type(key: string): Promise<string>;
  hgetall(key: string): Promise<Record<string, string>>;
  smembers(key: string): Promise<string[]>;
  xlen(key: string): Promise<number>;
  xrevrange(key: string, end: string, start: string, countToken: 'COUNT', count: number): Promise<StreamEntry[]>;
}

export interface GateInfo {
  readonly name: string;
  readonly description: string;
  readonly mode: 'shadow' | 'enforce' | null;
  readonly trigger: 'stream' | 'schedule' | 'queue';
}

export interface ConsumerInfo {
  readonly handler: string;
  readonly source: string;
  readonly group?: string;
  readonly consuming: boolean;
}

export interface StatusSources {
  readonly redis: StatusRedis;
  readonly gates: readonly GateInfo[];
  consumers(): readonly ConsumerInfo[];
  backlog(): Promise<readonly GroupBacklog[]>;
  metrics(): Promise<readonly MetricJson[]>;
  redisReady(): boolean;
  now(): number;
  readonly streams: {
    readonly calibrated: string;
    readonly governorEvents: string;
    readonly deadLetter: string;
    readonly outcomes?: string;
  };
  readonly heatThresholds: { readonly min: number; readonly max: number } | null;
  /** Why /ready would answer 503 (the headline's blocking causes); absent without a runtime. */
  readinessCauses?(): ReadinessCauses;
  /** Remembers the gates' numbers, so the headline can say what failed or grew recently. */
  readonly trends?: GateTrends;
  readonly build?: BuildInfo;
  readonly instance?: StatusInstance;
}

export interface StatusOptions {
  /** Calibrated entries read for the heat chart and the downgrades. */
  readonly historySize: number;
  /** Decisions shown per gate. */
  readonly decisionLimit: number;
  /** Symbols listed in the budget table at most. */
  readonly maxSymbols: number;
  /** A Redis read slower than this fails its section rather than hang the page. */
  readonly timeoutMs: number;
}

export const defaultStatusOptions: StatusOptions = { historySize: 120, decisionLimit: 20, maxSymbols: 200, timeoutMs: 2000 };

/** Outcome samples read for the cumulative PnL chart. */
const OUTCOME_SAMPLES = 1000;

export async function collectStatus(sources: StatusSources, options: StatusOptions = defaultStatusOptions): Promise<GatesStatus> {
  const failures: SectionFailure[] = [];
  const section = async <T>(name: string, read: () => Promise<T>): Promise<T | null> => {
    try {
      return await withTimeout(read(), options.timeoutMs);
    } catch (error) {
      failures.push({ section: name, message: error instanceof Error ? error.message : String(error) });
      return null;
    }
  };
  const { redis } = sources;
  const [metrics, backlog, heatHash, calibrated, governorEvents, budgets, kill, disarm, dlqLength, outcomeEntries] = await Promise.all([
    section('metrics', () => sources.metrics()),
    section('consumer groups', () => sources.backlog()),
    section('portfolio heat', () => redis.hgetall(keys.portfolioHeat)),
    section('heat history', () => redis.xrevrange(sources.streams.calibrated, '+', '-', 'COUNT', options.historySize)),
    section('governor events', () => redis.xrevrange(sources.streams.governorEvents, '+', '-', 'COUNT', options.decisionLimit)),
    section('budgets', () => readBudgets(redis, options.maxSymbols)),
    section('kill switch', async () => {
      const value = await redis.get(keys.killSwitch);
      // The governor's own definition: any value but absent, "0", "false" and "" blocks.
      return { active: killSwitchBlocks(value), value };
    }),
    section('disarm', () => readDisarm(redis)),
    section('dead letters', () => redis.xlen(sources.streams.deadLetter)),
    section('outcomes', () => redis.xrevrange(sources.streams.outcomes ?? streams.gatesOutcome, '+', '-', 'COUNT', OUTCOME_SAMPLES)),
  ]);

  const heat: HeatStatus | null =
    heatHash === null && calibrated === null
      ? null
      : {
          value: numberOrNull(heatHash?.heat),
          bucket: heatHash?.bucket || null,
          updated_at: numberOrNull(heatHash?.updated_at),
          thresholds: sources.heatThresholds,
          history: calibrated ? heatHistory(calibrated) : [],
        };
  const decisions =
    calibrated === null && governorEvents === null
      ? null
      : newestFirst([...heatDecisions(calibrated ?? [], options.decisionLimit), ...governorDecisions(governorEvents ?? [])]);

  const now = sources.now();
  const readiness = sources.readinessCauses?.();
  const collapsed = collapseFailures(failures, readiness?.redis);
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
    kill_switch: kill,
    disarm,
    dead_letter: deadLetter,
    budgets,
    gates,
    readiness,
    redis: collapsed.redis,
    unread: collapsed.unread,
    trends,
  });

  return {
    generated_at: now,
    headline,
    build: sources.build ?? null,
    instance: sources.instance ?? null,
    redis_ready: sources.redisReady(),
    gates,
    heat,
    budgets,
    kill_switch: kill,
    disarm,
    decisions,
    dead_letter: deadLetter,
    outcomes: outcomeEntries === null ? null : outcomesStatus(outcomeEntries),
    redis_fault: collapsed.redis,
    errors: [...collapsed.lines],
  };
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

/** Milliseconds since the epoch encoded in a stream entry id. */
export function entryTime(id: string): number {
  return Number(id.split('-')[0]);
}

/** The heat gate's decisions, oldest first, as chart points (time of the decision entry). */
export function heatHistory(newestFirstEntries: readonly StreamEntry[]): HeatPoint[] {
  const points: HeatPoint[] = [];
  for (const [id, list] of newestFirstEntries) {
    const parsed = calibratedEntryReader.safeParse(fieldsToRecord(list));
    if (!parsed.success) continue;
    const fields = parsed.data;
    // A fail-closed decision carries no real heat (0.0): not a point of the chart.
    if (fields.fail_closed_cause !== undefined) continue;
    const heat = numberOrNull(fields.heat_value);
    if (heat === null) continue;
    points.push({ at: entryTime(id), heat, bucket: fields.heat_bucket || null });
  }
  return points.reverse();
}

/** The heat gate's decisions, newest first: proposals it calibrated down, and those it kept. */
export function heatDecisions(newestFirstEntries: readonly StreamEntry[], limit: number): Decision[] {
  const out: Decision[] = [];
  for (const [id, list] of newestFirstEntries) {
    if (out.length >= limit) break;
    const parsed = calibratedEntryReader.safeParse(fieldsToRecord(list));
    if (!parsed.success) continue;
    const f = parsed.data;
    // `calibrated` is "true" on every entry (as the original wrote it): the actions tell a downgrade.
    const downgraded = f.original_action !== undefined && f.calibrated_action !== undefined && f.original_action !== f.calibrated_action;
    const heat = f.heat_value === undefined ? '' : `heat ${f.heat_value}`;
    out.push({
      at: entryTime(id),
      kind: downgraded ? 'downgrade' : 'kept',
      gate: 'heat-gate',
      symbol: f.symbol || null,
      plan_id: f.plan_id || null,
      action: downgraded
        ? `${f.original_action ?? '?'} → ${f.calibrated_action ?? '?'}`
        : (f.original_action ?? f.calibrated_action ?? null),
      reason: f.fail_closed_cause ? `${f.reason ?? ''} (fail-closed: ${f.fail_closed_cause})` : f.reason || null,
      detail: [heat, f.heat_bucket ?? ''].filter(Boolean).join(' ') || null,
      mode: f.mode || null,
      id,
    });
  }
  return out;
}

const KIND_FIELDS = ['event', 'event_type', 'type', 'decision', 'result', 'outcome', 'status'] as const;

/**
 * Governor events, newest first. The event's kind is read from whichever of the usual fields
 * names it (a permit or a block), so a field renamed upstream degrades to a plain "event" row
 * instead of an empty table.
 */
export function governorDecisions(newestFirstEntries: readonly StreamEntry[]): Decision[] {
  return newestFirstEntries.map(([id, list]) => {
    const raw = fieldsToRecord(list);
    const known = parseGovernorEvent(raw);
    if (known !== undefined) return knownGovernorDecision(id, known);
    const f = withEmbeddedJson(raw);
    // The first field that names the event wins: a plan's own decision=EXECUTE comes later.
    const named = KIND_FIELDS.map((k) => f[k]).find((v) => v !== undefined && v !== '');
    const side = f.kind === 'open' || f.kind === 'close' ? ` (${f.kind})` : '';
    return {
      at: entryTime(id),
      kind: kindOf(named ?? ''),
      gate: 'governor',
      symbol: f.symbol || null,
      plan_id: f.plan_id || null,
      action: f.action || f.plan_action || null,
      reason: f.reason || f.block_reason || null,
      detail: named === undefined ? null : named + side,
      mode: f.mode || null,
      id,
    };
  });
}

/** An entry the governor event schema knows (schemas/governor-event.ts). */
function knownGovernorDecision(id: string, event: GovernorEvent): Decision {
  const base = { at: entryTime(id), gate: 'governor' as const, id };
  switch (event.event) {
    case 'permit':
    case 'block':
      return {
        ...base,
        kind: event.event,
        symbol: event.symbol || null,
        plan_id: event.plan_id || null,
        action: event.action || null,
        reason: event.reason || null,
        detail: event.kind ? `${event.event} (${event.kind})` : event.event,
        mode: event.apply_mode || null,
      };
    case 'AUTO_DISARM':
      return { ...base, kind: 'event', symbol: null, plan_id: null, action: null, reason: event.reason, detail: event.event, mode: null };
    case 'cooldown_expired':
      return {
        ...base,
        kind: 'event',
        symbol: event.symbol,
        plan_id: event.plan_id,
        action: null,
        reason: null,
        detail: event.event,
        mode: null,
      };
    default:
      return {
        ...base,
        kind: 'event',
        symbol: null,
        plan_id: null,
        action: null,
        reason: event.reason || null,
        detail: event.event,
        mode: null,
      };
  }
}

function kindOf(text: string): Decision['kind'] {
  if (/block|deny|denied|reject/i.test(text)) return 'block';
  if (/permit|allow|grant|approved/i.test(text)) return 'permit';
  return 'event';
}

/** Some producers put the event in one JSON field (like budget.violation's `json`). */
function withEmbeddedJson(fields: Record<string, string>): Record<string, string> {
  for (const name of ['json', 'payload', 'data']) {
    const raw = fields[name];
    if (raw === undefined || !raw.startsWith('{')) continue;
    try {
      const parsed = JSON.parse(raw) as unknown;
      if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) {
        const flat: Record<string, string> = {};
        for (const [k, v] of Object.entries(parsed)) if (v !== null && typeof v !== 'object') flat[k] = String(v);
        return { ...flat, ...fields };
      }
    } catch {
      // not JSON after all: keep the fields as they are
    }
  }
  return fields;
}

export function newestFirst(decisions: readonly Decision[]): Decision[] {
  return [...decisions].sort((a, b) => b.at - a.at || b.id.localeCompare(a.id));
}

async function readBudgets(redis: StatusRedis, maxSymbols: number): Promise<BudgetRow[]> {
  const symbols = (await redis.smembers(keys.activePositions)).sort().slice(0, maxSymbols);
  return Promise.all(
    symbols.map(async (symbol) => {
      const [budget, position] = await Promise.all([redis.hgetall(keys.budget(symbol)), redis.hgetall(keys.position(symbol))]);
      return budgetRow(symbol, budget, position);
    }),
  );
}

export function budgetRow(symbol: string, raw: Record<string, string>, position: Record<string, string>): BudgetRow {
  const budget = readBudgetHash(raw);
  const budgetUsd = numberOrNull(budget.budget_usd);
  const notional = numberOrNull(position.position_notional_usd);
  const ts = numberOrNull(budget.timestamp);
  return {
    symbol,
    budget_usd: budgetUsd,
    stress_factor: numberOrNull(budget.stress_factor),
    position_notional_usd: notional,
    over_budget: budgetUsd !== null && notional !== null && Math.abs(notional) > budgetUsd,
    mode: budget.mode || null,
    // The budget engine writes epoch seconds; the one epoch rule reads any unit, or none.
    computed_at: ts === null ? null : (epochMs(ts) ?? null),
  };
}

async function readDisarm(redis: StatusRedis): Promise<{ active: boolean; detail: string | null }> {
  const type = await redis.type(keys.governorDisarm);
  if (type === 'none') return { active: false, detail: null };
  if (type === 'string') return { active: true, detail: describeDisarm(await redis.get(keys.governorDisarm)) };
  if (type === 'hash') {
    const hash = await redis.hgetall(keys.governorDisarm);
    return {
      active: true,
      detail:
        hash.reason ??
        (Object.entries(hash)
          .map(([k, v]) => `${k}=${v}`)
          .join(', ') ||
          null),
    };
  }
  return { active: true, detail: `(a ${type} key)` };
}

/** The governor stores {reason, errors, window_sec, ts} as JSON; show it as words, not braces. */
export function describeDisarm(raw: string | null): string | null {
  if (raw === null || raw === '') return null;
  try {
    const parsed = JSON.parse(raw) as unknown;
    if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) {
      return Object.entries(parsed)
        .map(([k, v]) => `${k}: ${typeof v === 'object' ? JSON.stringify(v) : String(v)}`)
        .join('; ');
    }
  } catch {
    // a plain string reason
  }
  return raw;
}

function numberOrNull(value: string | undefined | null): number | null {
  return parseNumber(value) ?? null;
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function numericConfig(config: unknown, min: string, max: string): { min: number; max: number } | null {
  if (!config || typeof config !== 'object') return null;
  const c = config as Record<string, unknown>;
  return typeof c[min] === 'number' && typeof c[max] === 'number' ? { min: c[min], max: c[max] } : null;
}

/** Wires the status to a running runtime. */
export function statusSourcesFrom(services: RuntimeServices): StatusSources {
  const heatGate = services.handlers.find((h) => h.handler.name === 'heat-gate');
  const heatConfig = heatGate?.config as Record<string, unknown> | undefined;
  const calibrated = typeof heatConfig?.P26_OUTPUT_STREAM === 'string' ? heatConfig.P26_OUTPUT_STREAM : streams.harvestCalibrated;
  const governorConfig = services.handlers.find((h) => h.handler.name === 'governor')?.config as Record<string, unknown> | undefined;
  const governorEvents = typeof governorConfig?.STREAM_EVENTS === 'string' ? governorConfig.STREAM_EVENTS : streams.governorEvents;
  return {
    redis: services.redis,
    gates: services.handlers.map(({ handler, config }) => ({
      name: handler.name,
      description: handler.description,
      mode: handler.mode?.(config) ?? null,
      trigger: handler.trigger.kind,
    })),
    consumers: () => services.consumers,
    backlog: () =>
      readBacklog(
        services.redis,
        services.consumers.flatMap((c) => (c.group === undefined ? [] : [{ handler: c.handler, stream: c.source, group: c.group }])),
      ),
    metrics: () => services.registry.getMetricsAsJSON(),
    redisReady: () => isReady(services.redis),
    now: Date.now,
    streams: {
      calibrated,
      governorEvents,
      deadLetter: services.config.DLQ_STREAM,
      outcomes: services.env.OUTCOME_STREAM?.trim() || streams.gatesOutcome,
    },
    heatThresholds: numericConfig(heatGate?.config, 'HEAT_MIN', 'HEAT_MAX'),
    readinessCauses: () => services.readinessCauses(),
    trends: new GateTrends(Date.now()),
    build: buildInfo(),
    instance: { name: services.config.CONSUMER_NAME, hostname: hostname(), port: services.config.PORT },
  };
}
