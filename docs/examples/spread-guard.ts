/**
 * The worked example of docs/writing-a-gate.md: a gate that blocks order intents while the
 * market's spread is too wide. Real code, type-checked and unit-tested
 * (test/unit/writing-a-gate.test.ts), so the guide cannot drift from the contract.
 */
import * as z from 'zod';
import { defineHandler, envInt, envNumber, parseEnv, type HandlerContext, type MetricFactory } from '../../runtime/index.js';
import { idField, numericField, symbolSchema } from '../../schemas/common.js';
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
  ctx.metrics.decisions.inc({ verdict: verdictName, reason: verdict.reason });
}

const number = (value: string | undefined) =>
  value === undefined || value.trim() === '' || !Number.isFinite(Number(value)) ? undefined : Number(value);

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
  failure: {
    maxAttempts: 3,
    backoffMs: 25,
    // After three failed tries the runtime records the safe output instead: a BLOCK.
    policy: 'fail-closed',
    fallback: (intent, _failure, ctx) => record(intent, { allow: false, reason: 'spread_guard_error' }, undefined, ctx),
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
