import * as z from 'zod';
import { cents, markToMarket } from '../../handlers/outcomes/pnl.js';
import type { Horizon } from '../../handlers/outcomes/horizons.js';
import type { Outcome } from '../../schemas/outcome.js';

/**
 * The offline replay: the same outcome samples the live follow-up writes, computed from a
 * recorded dump (JSONL) of followed decisions and prices, so a strategy team can study a week
 * away from Redis. A decision's price at horizon h is the first price of its symbol at or after
 * decided_at + h (the live sample reads the price when its delayed job runs, which is just after).
 * With the follow-up's reading recorded (followed_at, late_bound_sec), the live rules apply: a
 * horizon already past by more than the bound when the decision was read is missing
 * (horizon_past), and a price more than the bound after its horizon is a late sample.
 */

const decisionLine = z.object({
  type: z.literal('decision'),
  decision_id: z.string().min(1),
  kind: z.string(),
  symbol: z.string().min(1),
  plan_id: z.string().default(''),
  bucket: z.string().default(''),
  mode: z.string().default(''),
  proposed_action: z.string().default(''),
  decided_action: z.string().default(''),
  exposure_usd: z.number().finite(),
  entry_price: z.number().positive(),
  decided_at: z.number().int().nonnegative(),
  // What the live follow-up recorded of its own reading (docs/outcomes.md); absent: unknown.
  entry_source: z.enum(['decision', 'follow_up']).optional(),
  followed_at: z.number().int().nonnegative().optional(),
  read_late: z.boolean().optional(),
  late_bound_sec: z.number().positive().optional(),
  // The quote the entry price is (docs/outcomes.md); absent: unknown.
  entry_price_source: z.string().min(1).optional(),
  entry_price_at: z.number().int().nonnegative().optional(),
  entry_price_age_ms: z.number().nonnegative().optional(),
});

const priceLine = z.object({
  type: z.literal('price'),
  symbol: z.string().min(1),
  ts: z.number().int().nonnegative(),
  price: z.number().positive(),
});

export type DumpDecision = z.infer<typeof decisionLine>;
export type DumpPrice = z.infer<typeof priceLine>;

/** Parses a dump; a bad line is an error naming its number. */
export function parseDump(text: string): { decisions: DumpDecision[]; prices: DumpPrice[] } {
  const decisions: DumpDecision[] = [];
  const prices: DumpPrice[] = [];
  text.split('\n').forEach((raw, index) => {
    const lineText = raw.trim();
    if (lineText === '') return;
    let value: unknown;
    try {
      value = JSON.parse(lineText);
    } catch {
      throw new Error(`line ${index + 1}: not JSON`);
    }
    const type = (value as { type?: unknown }).type;
    const parsed = type === 'price' ? priceLine.safeParse(value) : decisionLine.safeParse(value);
    if (!parsed.success)
      throw new Error(`line ${index + 1}: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
    if (parsed.data.type === 'price') prices.push(parsed.data);
    else decisions.push(parsed.data as DumpDecision);
  });
  return { decisions, prices };
}

/** The samples the live follow-up would have written for these decisions and prices. */
export function replayOutcomes(decisions: readonly DumpDecision[], prices: readonly DumpPrice[], horizons: readonly Horizon[]): Outcome[] {
  const series = new Map<string, DumpPrice[]>();
  for (const p of prices) series.set(p.symbol, [...(series.get(p.symbol) ?? []), p]);
  for (const list of series.values()) list.sort((a, b) => a.ts - b.ts);
  const samples: Outcome[] = [];
  for (const d of decisions) {
    let worst: number | undefined;
    const bound = d.late_bound_sec;
    for (const h of horizons) {
      const due = d.decided_at + h.ms;
      const past = bound !== undefined && d.followed_at !== undefined && d.followed_at - due > bound * 1000;
      const point = past ? undefined : series.get(d.symbol)?.find((p) => p.ts >= due);
      const pnl = markToMarket(d.exposure_usd, d.entry_price, point?.price);
      if (pnl !== undefined) worst = worst === undefined ? pnl : Math.min(worst, pnl);
      samples.push({
        decision_id: d.decision_id,
        kind: d.kind,
        symbol: d.symbol,
        plan_id: d.plan_id,
        bucket: d.bucket,
        mode: d.mode,
        proposed_action: d.proposed_action,
        decided_action: d.decided_action,
        horizon: h.label,
        horizon_sec: h.ms / 1000,
        decided_at: d.decided_at,
        sampled_at: past ? d.followed_at! : (point?.ts ?? due),
        exposure_usd: d.exposure_usd,
        entry_price: d.entry_price,
        price: point?.price,
        pnl_usd: pnl === undefined ? undefined : cents(pnl),
        worst_pnl_usd: worst === undefined ? undefined : cents(worst),
        entry_source: d.entry_source,
        followed_at: d.followed_at,
        read_late: d.read_late,
        sample_late: past ? true : bound !== undefined && point !== undefined ? point.ts - due > bound * 1000 : undefined,
        late_bound_sec: bound,
        missing_reason: past ? 'horizon_past' : pnl === undefined ? 'no_price' : undefined,
        entry_price_source: d.entry_price_source,
        entry_price_at: d.entry_price_at,
        entry_price_age_ms: d.entry_price_age_ms,
      });
    }
  }
  return samples;
}

/** A dump of what the live follow-up recorded: its decisions and the prices its samples read. */
export function dumpOf(samples: readonly Outcome[]): string {
  const lines: string[] = [];
  const seen = new Set<string>();
  for (const s of samples) {
    if (!seen.has(s.decision_id)) {
      seen.add(s.decision_id);
      const decision: DumpDecision = {
        type: 'decision',
        decision_id: s.decision_id,
        kind: s.kind,
        symbol: s.symbol,
        plan_id: s.plan_id,
        bucket: s.bucket,
        mode: s.mode,
        proposed_action: s.proposed_action,
        decided_action: s.decided_action,
        exposure_usd: s.exposure_usd,
        entry_price: s.entry_price,
        decided_at: s.decided_at,
        ...(s.entry_source === undefined ? {} : { entry_source: s.entry_source }),
        ...(s.followed_at === undefined ? {} : { followed_at: s.followed_at }),
        ...(s.read_late === undefined ? {} : { read_late: s.read_late }),
        ...(s.late_bound_sec === undefined ? {} : { late_bound_sec: s.late_bound_sec }),
        ...(s.entry_price_source === undefined ? {} : { entry_price_source: s.entry_price_source }),
        ...(s.entry_price_at === undefined ? {} : { entry_price_at: s.entry_price_at }),
        ...(s.entry_price_age_ms === undefined ? {} : { entry_price_age_ms: s.entry_price_age_ms }),
      };
      lines.push(JSON.stringify(decision));
    }
    if (s.price !== undefined)
      lines.push(JSON.stringify({ type: 'price', symbol: s.symbol, ts: s.sampled_at, price: s.price } satisfies DumpPrice));
  }
  return lines.join('\n') + (lines.length > 0 ? '\n' : '');
}
