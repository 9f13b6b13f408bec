/**
 * The worked example of docs/writing-a-gate.md: a gate that blocks order intents while the
 * market's spread is too wide. Real code, type-checked and unit-tested
 * (test/unit/writing-a-gate.test.ts), so the guide cannot drift from the contract.
 */
import * as z from 'zod';
import {
  defineHandler,
  defineStatusSection,
  type HandlerContext,
  type MetricFactory,
  type RouteDeclaration,
} from '../../runtime/contract/index.js';
import { envInt, envNumber, parseEnv } from '../../schemas/env.js';
import { idField, numericField, symbolSchema } from '../../schemas/common.js';
import { fieldsToRecord } from '../../schemas/fields.js';
import { keys } from '../../schemas/keys.js';

// 1. The input: a zod schema of the stream entry. Loose, so fields we do not name are kept.
export const orderIntentSchema = z.looseObject({
  plan_id: idField,
  symbol: symbolSchema,
  qty: numericField,
});
export type OrderIntent = z.infer<typeof orderIntentSchema>;

// 2. The configuration: environment variables with defaults, parsed once at start.
const configSchema = z.object({
  SPREAD_GUARD_INPUT_STREAM: z.string().min(1).default('quantum:stream:example.order.intent'),
  SPREAD_GUARD_OUTPUT_STREAM: z.string().min(1).default('quantum:stream:example.order.checked'),
  SPREAD_GUARD_GROUP: z.string().min(1).default('spread_guard'),
  SPREAD_GUARD_MAX_BPS: envNumber(25).refine((v) => v > 0, 'must be positive'),
  /** Market state older than this is not trusted. */
  SPREAD_GUARD_MAX_AGE_SEC: envInt(30, 1),
  /** How long a plan_id's verdict is remembered: a redelivery within it is not checked again. */
  SPREAD_GUARD_MEMORY_SEC: envInt(3600, 1),
});
export type SpreadGuardConfig = z.infer<typeof configSchema>;

// 3. Metrics: declared through the factory, never prom-client itself.
function spreadGuardMetrics(m: MetricFactory) {
  return {
    decisions: m.counter({
      name: 'example_spread_guard_decisions_total',
      help: 'Order intents checked, by verdict and reason',
      labelNames: ['verdict', 'reason'],
    }),
    duplicates: m.counter({ name: 'example_spread_guard_duplicates_total', help: 'Intents whose plan_id was checked already' }),
  };
}
type SpreadGuardMetrics = ReturnType<typeof spreadGuardMetrics>;

// 4. The decision: a closed set of coded reasons and a small pure function that picks one.
export type SpreadReason = 'spread_ok' | 'spread_too_wide' | 'market_state_missing' | 'market_state_stale' | 'spread_guard_error';

export interface MarketQuote {
  readonly spreadBps: number | undefined;
  /** Milliseconds since the epoch of the quote. */
  readonly at: number | undefined;
}

export interface SpreadVerdict {
  readonly allow: boolean;
  readonly reason: SpreadReason;
}

/** Fail-closed: without a fresh, readable quote the order is blocked. */
export function checkSpread(quote: MarketQuote, limits: { maxBps: number; maxAgeMs: number }, now: number): SpreadVerdict {
  if (quote.spreadBps === undefined || quote.at === undefined) return { allow: false, reason: 'market_state_missing' };
  if (now - quote.at > limits.maxAgeMs) return { allow: false, reason: 'market_state_stale' };
  if (quote.spreadBps > limits.maxBps) return { allow: false, reason: 'spread_too_wide' };
  return { allow: true, reason: 'spread_ok' };
}

/** The gate keeps no batch state, so any state type will do. */
type Ctx = HandlerContext<SpreadGuardConfig, unknown, SpreadGuardMetrics>;

/** Ours: a plan_id's verdict, kept SPREAD_GUARD_MEMORY_SEC so each plan_id is checked once. */
export const checkedKey = (planId: string) => `quantum:example:spread-guard:checked:${planId}`;

// 5. Recording: the verdict becomes effects (committed with the message's ack) and metrics.
function record(intent: OrderIntent, verdict: SpreadVerdict, spreadBps: number | undefined, ctx: Ctx): void {
  const verdictName = verdict.allow ? 'ALLOW' : 'BLOCK';
  ctx.emit(ctx.config.SPREAD_GUARD_OUTPUT_STREAM, {
    plan_id: intent.plan_id,
    symbol: intent.symbol,
    verdict: verdictName,
    reason: verdict.reason,
    spread_bps: spreadBps === undefined ? '' : String(spreadBps),
    timestamp: String(Math.floor(ctx.now() / 1000)),
  });
  ctx.put(checkedKey(intent.plan_id), verdictName, { ttlSec: ctx.config.SPREAD_GUARD_MEMORY_SEC });
  ctx.metrics.decisions.inc({ verdict: verdictName, reason: verdict.reason });
}

const number = (value: string | undefined) =>
  value === undefined || value.trim() === '' || !Number.isFinite(Number(value)) ? undefined : Number(value);

// Its own surfaces (§16 of the guide), declared rather than served: an HTTP route, and a section of the status
// page, of GET /status and of `quantum-gates status`. No Fastify, no prom-client.

/** GET /spread-guard/limits: the limits this replica enforces, for the desk's tools. */
const limitsRoute: RouteDeclaration<SpreadGuardConfig, SpreadGuardMetrics> = {
  methods: ['GET'],
  path: '/spread-guard/limits',
  answer: (_request, ctx) => ({
    status: 200,
    contentType: 'application/json',
    body: JSON.stringify({ max_bps: ctx.config.SPREAD_GUARD_MAX_BPS, max_age_sec: ctx.config.SPREAD_GUARD_MAX_AGE_SEC }),
  }),
};

export interface SpreadGuardStatus {
  /** Verdicts among the newest entries of the output stream, and how many of them blocked. */
  readonly checked: number;
  readonly blocked: number;
  /** The newest ten, newest first. */
  readonly latest: readonly { readonly at: number; readonly symbol: string; readonly verdict: string; readonly reason: string }[];
}

/** The `spread_guard` key of GET /status, drawn on the page from the shapes in `views`. */
export const spreadGuardSection = defineStatusSection<SpreadGuardConfig, SpreadGuardStatus>({
  key: 'spread_guard',
  title: 'Spread guard',
  views: [
    {
      shape: 'fields',
      fields: [
        { key: 'checked', label: 'Order intents checked (latest)', format: 'count' },
        { key: 'blocked', label: 'Blocked', format: 'count' },
      ],
    },
    {
      shape: 'table',
      rows: 'latest',
      empty: 'No order intents checked yet.',
      columns: [
        { key: 'at', label: 'Time', format: 'time' },
        { key: 'symbol', label: 'Symbol' },
        { key: 'verdict', label: 'Verdict' },
        { key: 'reason', label: 'Reason', format: 'code' },
      ],
    },
  ],
  async read(ctx) {
    // Where this process does not host the gate, its settings are read from the environment.
    const config = ctx.config ?? parseEnv(configSchema, ctx.env);
    const stream = config.SPREAD_GUARD_OUTPUT_STREAM;
    const entries = await ctx.read('spread-guard verdicts', () => ctx.redis.xrevrange(stream, '+', '-', 'COUNT', 50));
    if (entries === null) return null;
    const verdicts = entries.map(([id, list]) => {
      const f = fieldsToRecord(list);
      return { at: Number(id.split('-')[0]), symbol: f.symbol ?? '', verdict: f.verdict ?? '', reason: f.reason ?? '' };
    });
    return { checked: verdicts.length, blocked: verdicts.filter((v) => v.verdict === 'BLOCK').length, latest: verdicts.slice(0, 10) };
  },
  // Every recent intent blocked for want of a quote: the market-state feed is down, not the market.
  headline: (status) =>
    status !== null && status.latest.length > 0 && status.latest.every((v) => v.reason.startsWith('market_state_'))
      ? [{ state: 'DEGRADED', text: 'spread-guard: no fresh market state, every order intent is blocked', since: null }]
      : [],
});

// 6. The declaration: everything the runtime needs, and nothing else.
export const spreadGuard = defineHandler({
  name: 'spread-guard',
  description: 'Example: blocks order intents while the spread is wider than SPREAD_GUARD_MAX_BPS',
  trigger: {
    kind: 'stream',
    stream: (c: SpreadGuardConfig) => c.SPREAD_GUARD_INPUT_STREAM,
    group: (c: SpreadGuardConfig) => c.SPREAD_GUARD_GROUP,
  },
  input: orderIntentSchema,
  config: (env) => parseEnv(configSchema, env),
  metrics: spreadGuardMetrics,
  http: { routes: [limitsRoute], status: [spreadGuardSection] },
  failure: {
    maxAttempts: 3,
    backoffMs: 25,
    // After three failed tries the runtime records the safe output instead: a BLOCK.
    policy: 'fail-closed',
    fallback: (intent, _failure, ctx) => record(intent, { allow: false, reason: 'spread_guard_error' }, undefined, ctx),
  },
  // One verdict per plan_id: a redelivered or repeated intent is counted, not checked again.
  idempotency: {
    keys: (intent) => [checkedKey(intent.plan_id)],
    onDuplicate: (intent, ctx) => {
      ctx.metrics.duplicates.inc();
      ctx.log.info({ plan_id: intent.plan_id }, 'plan_id checked already; skipped');
    },
  },
  async handle(intent, ctx) {
    const market = await ctx.redis.hgetall(keys.marketState(intent.symbol));
    const spreadBps = number(market.spread_bps);
    const updatedSec = number(market.timestamp);
    const verdict = checkSpread(
      { spreadBps, at: updatedSec === undefined ? undefined : updatedSec * 1000 },
      { maxBps: ctx.config.SPREAD_GUARD_MAX_BPS, maxAgeMs: ctx.config.SPREAD_GUARD_MAX_AGE_SEC * 1000 },
      ctx.now(),
    );
    record(intent, verdict, spreadBps, ctx);
  },
});
