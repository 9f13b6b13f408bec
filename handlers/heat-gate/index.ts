import { randomUUID } from 'node:crypto';
import { defineHandler, metricsAsHealth, type HandlerContext } from '../../runtime/contract/index.js';
import { FREE_TEXT_MAX, harvestProposalSchema, type HarvestProposal } from '../../schemas/harvest-proposal.js';
import type { HeatBucket } from '../../schemas/heat-gate.js';
import { keys } from '../../schemas/keys.js';
import { pyFloatStr } from '../../schemas/python-number.js';
import { p33KeyWatch, readP33Position, unreadableCause, type UntrustedFigure } from '../positions/book.js';
import {
  freshestOf,
  futureQuotes,
  noteFutureQuotes,
  positionQuote,
  priceQuotesOf,
  quoteBounds,
  readPriceQuotes,
  type PriceQuote,
} from '../positions/prices.js';
import { calibrate, type Calibration } from './calibrate.js';
import { parseHeatGateConfig, type HeatGateConfig } from './config.js';
import { assessHeat, bucketOf, loadHeatInputs, provenHeat, type HeatAssessment, type HeatInputs } from '../positions/heat.js';
import { failureLabelOf } from './failure-label.js';
import { heatGateMetrics, type HeatGateMetrics } from './metrics.js';
import { calibratedEntry, carriedFields, enforceHash, heatDecisionEntry, type DecisionFacts, type DecisionMark } from './outputs.js';
import { safeFormOfRejected } from './rejected.js';
import { applyLayerPlanId } from './plan-id.js';
import { heatDecisionsSection, heatSection } from './status.js';
import { calibrationSection } from './calibration-status.js';
import { unusableReason } from './unusable.js';
import { HeatScaleWatch, scaleWatchCapacity } from './scale-watch.js';

type Ctx = HandlerContext<HeatGateConfig, HeatInputs | undefined, HeatGateMetrics>;

const BUCKETS = ['COLD', 'WARM', 'HOT'] as const;
const BUCKET_LABELS = { COLD: { state: 'COLD' }, WARM: { state: 'WARM' }, HOT: { state: 'HOT' } } as const;

/**
 * P2.6 Portfolio Heat Gate: calibrates full closes (FULL_CLOSE, the kernel's FULL_CLOSE_PROPOSED) by portfolio heat. Always writes the
 * calibrated entry and a heat decision for the bridge; in enforce mode also HSETs the calibration
 * over the proposal hash the Apply Layer reads. Outputs as the originals wrote them
 * (schemas/heat-gate.ts); heat it cannot trust is treated as COLD (fail-closed).
 */
export const heatGate = defineHandler({
  name: 'heat-gate',
  description: 'P2.6 portfolio heat gate: FULL_CLOSE → PARTIAL_25/75 by heat bucket',
  trigger: { kind: 'stream', stream: (c: HeatGateConfig) => c.P26_INPUT_STREAM, group: (c: HeatGateConfig) => c.P26_GROUP },
  input: harvestProposalSchema,
  config: parseHeatGateConfig,
  metrics: heatGateMetrics,
  mode: (config) => config.P26_MODE,
  // Every P3.3 write before a proposal is in its decision (book.ts p33KeyWatch).
  keyWatch: p33KeyWatch,
  // prometheus_client's start_http_server (P26_METRICS_PORT) answered every path with the metrics.
  http: { health: metricsAsHealth, status: [heatSection, calibrationSection, heatDecisionsSection] },
  batch: {
    // With every book symbol's quotes: a decision's mark needs no read of its own.
    loadState: (redis, config, now) => loadHeatInputs(redis, config, now, true),
    // A listing of the book Redis refuses: /ready is 503 naming it (book_unreadable) until it is read again.
    stateFault: (inputs: HeatInputs) => unreadableCause(inputs.unreadableListings ?? [], 'heat untrusted, taken as COLD'),
    // p26_heat_value without waiting for a proposal (seed 003: the heat metric updates every
    // 10 s); a budget engine deployed apart scrapes it (HEAT_GATE_METRICS_URL). Each replica its own.
    refresh: {
      everyMs: (config) => config.P26_HEAT_REFRESH_MS,
      apply: (inputs, metrics, config, run) => {
        const assessment = assessHeat(inputs);
        publishHeat(assessment, metrics, config);
        watchScale(assessment, metrics, config);
        // The original's initial heat check at start counted what it could not trust, once.
        if (run.first && !assessment.trusted) metrics.failures.inc({ reason: failureLabelOf[assessment.cause] });
      },
    },
  },
  failure: {
    maxAttempts: 3,
    backoffMs: 25,
    // Fail-closed: an error is treated as COLD, so FULL_CLOSE becomes PARTIAL_25.
    policy: 'fail-closed',
    fallback: (proposal, _failure, ctx) => {
      observeLag(ctx);
      record(proposal, { trusted: false, cause: 'heat_gate_error', untrusted: [] }, ctx);
    },
    // A proposal the gate cannot accept is dead-lettered; in enforce mode the kernel's hash is
    // still left in its safe form (COLD), never with the unchecked proposal in force.
    rejected: (raw, ctx) => {
      observeLag(ctx);
      return safeFormOfRejected(raw, ctx, 'at-read');
    },
    // What real producers write here that no heat gate can use: counted, never dead-lettered.
    unusable: (raw, ctx) => {
      const reason = unusableReason(raw);
      // Synchronous but for an entry without an action: asked of every entry, it costs the
      // entries it lets through no promise.
      if (reason === undefined) return false;
      observeLag(ctx);
      ctx.metrics.unusable.inc({ reason });
      // An entry without any action is about its symbol's kernel hash all the same: in enforce
      // mode that hash is left in its safe form, as for a refused proposal (H3). Another heat
      // gate's decision or a NOOP is never written anywhere.
      if (reason === 'no_action') return safeFormOfRejected(raw, ctx, 'in-commit').then(() => true);
      return true;
    },
  },
  async handle(proposal, ctx) {
    observeLag(ctx);
    const inputs = ctx.state;
    if (inputs.streamRead === 'tail') ctx.metrics.positionBookFallback.inc({ cause: 'no_group' });
    if (inputs.truncated) ctx.metrics.positionBookFallback.inc({ cause: 'truncated' });
    for (const r of inputs.refused ?? []) ctx.metrics.figuresRefused.inc({ source: r.source, reason: r.reason });
    // A book read in part decides without a heat (book_unreadable): no read of the symbol adds to it.
    if (inputs.symbols?.has(proposal.symbol) !== false || (inputs.unreadableListings?.length ?? 0) > 0)
      return decide(proposal, inputs, ctx);
    // The proposal's own symbol is not in the book: the Position Ledger may hold it already and
    // the index of its hashes not know yet. Read it directly rather than wait for the index.
    const untrusted: UntrustedFigure[] = [];
    return readP33Position(ctx.redis, proposal.symbol, untrusted, { config: ctx.config, now: ctx.now() }).then((direct) =>
      decide(
        proposal,
        {
          ...inputs,
          positions: direct === undefined ? inputs.positions : [...inputs.positions, direct],
          positionMarks:
            direct === undefined
              ? inputs.positionMarks
              : new Map([...(inputs.positionMarks ?? []), [direct.symbol, { markPrice: direct.markPrice, asOfMs: direct.asOfMs }]]),
          untrusted: untrusted.length === 0 ? inputs.untrusted : [...(inputs.untrusted ?? []), ...untrusted],
        },
        ctx,
      ),
    );
  },
});

/** p26_stream_lag_ms: the original observed now − the entry id's time, in ms, for every entry read. */
function observeLag(ctx: Pick<Ctx, 'metrics' | 'now' | 'meta'>): void {
  ctx.metrics.streamLag.observe(ctx.now() - ctx.meta.producedAt);
}

function decide(proposal: HarvestProposal, inputs: HeatInputs, ctx: Ctx): void | Promise<void> {
  // Untrusted heat whose trusted figures already prove HOT decides HOT (a lower bound); else it fails closed by its cause.
  const assessment = provenHeat(assessHeat(inputs), ctx.config.HEAT_MIN, ctx.config.HEAT_MAX);
  publishHeat(assessment, ctx.metrics, ctx.config);
  if (assessment.trusted && assessment.capped) ctx.metrics.heatCapped.inc();
  const decided = calibrationOf(proposal, assessment, ctx.config);
  if (decided.calibration.calibratedAction === proposal.proposedAction) return record(proposal, assessment, ctx, undefined, decided);
  // A decision that changes the action is followed to its outcome: its mark and position are
  // recorded with it (debug_json), as they are now, not as a follow-up would find them later.
  const positionUsd = inputs.positions.find((p) => p.symbol === proposal.symbol)?.notionalUsd;
  // Every quote is read, the position's own mark among them: a position's mark can be seconds
  // older than the price feed's, and the freshest by each source's own time prices the decision.
  const mark = decisionMark(proposal.symbol, inputs, ctx);
  if (mark instanceof Promise) return mark.then((read) => record(proposal, assessment, ctx, { mark: read, positionUsd }, decided));
  return record(proposal, assessment, ctx, { mark, positionUsd }, decided);
}

const markOf = (quote: PriceQuote, now: number): DecisionMark => ({
  price: quote.price,
  source: quote.source,
  asOfMs: quote.asOfMs,
  // Signed: a quote stamped ahead of this clock (within the allowed skew) says so.
  ageMs: quote.asOfMs === undefined ? undefined : now - quote.asOfMs,
});

function calibrationOf(
  proposal: HarvestProposal,
  assessment: HeatAssessment,
  config: HeatGateConfig,
): { readonly bucket: HeatBucket; readonly calibration: Calibration } {
  const bucket: HeatBucket = assessment.trusted ? bucketOf(assessment.heat, config.HEAT_MIN, config.HEAT_MAX) : 'COLD';
  return { bucket, calibration: calibrate(proposal.proposedAction, bucket, config.P26_APPLY_LAYER_ERA) };
}

/** The quotes of a symbol: a symbol of the book's came with the batch state; another's are read. */
function symbolQuotes(symbol: string, inputs: HeatInputs, ctx: Ctx): PriceQuote[] | Promise<PriceQuote[]> {
  const replies = inputs.quotes?.get(symbol);
  return replies === undefined ? readPriceQuotes(ctx.redis, symbol, ctx.config) : priceQuotesOf(replies);
}

type MarkAtDecision = DecisionMark | null;

/**
 * The symbol's mark now, by the rule the governor prices opens with (handlers/positions/prices.ts):
 * the freshest quote within PRICE_MAX_AGE_SEC, the book's own mark of the position among them.
 * null when none is fresh. A read Redis did not answer fails the decision, as any of its reads: the
 * runtime holds it and it is made again once Redis answers, its record whole (a decision is
 * committed through Redis anyway, so waiting for the mark costs no decision). At once when the
 * quotes came with the batch state.
 */
function decisionMark(symbol: string, inputs: HeatInputs, ctx: Ctx): MarkAtDecision | Promise<MarkAtDecision> {
  const quotes = symbolQuotes(symbol, inputs, ctx);
  if (!(quotes instanceof Promise)) return freshestMark(quotes, symbol, inputs, ctx);
  return quotes.then((read) => freshestMark(read, symbol, inputs, ctx));
}

function freshestMark(quotes: readonly PriceQuote[], symbol: string, inputs: HeatInputs, ctx: Ctx): DecisionMark | null {
  const now = ctx.now();
  const [own, bounds] = [positionQuote(inputs.positionMarks?.get(symbol)), quoteBounds(ctx.config)];
  noteFutureQuotes(symbol, [...futureQuotes(quotes, now, bounds), ...futureQuotes(own, now, bounds)], now, ctx);
  const quote = freshestOf(quotes, own, now, bounds);
  return quote === undefined ? null : markOf(quote, now);
}

/** Each replica's hour of refreshed heats (its metrics object is its own). */
const scaleWatches = new WeakMap<HeatGateMetrics, HeatScaleWatch>();

/**
 * quantum_heat_gate_thresholds_unreached from the refreshes only: off the decisions' path, and a
 * refresh computes the heat from the same state a batch loads.
 */
function watchScale(assessment: HeatAssessment, metrics: HeatGateMetrics, config: HeatGateConfig): void {
  if (!assessment.trusted) return;
  let watch = scaleWatches.get(metrics);
  if (watch === undefined) scaleWatches.set(metrics, (watch = new HeatScaleWatch(scaleWatchCapacity(config.P26_HEAT_REFRESH_MS))));
  watch.add(assessment.heat);
  metrics.thresholdsUnreached.set(watch.warning({ min: config.HEAT_MIN, max: config.HEAT_MAX }) === null ? 0 : 1);
}

/** The heat gauges. As the original: they move only when a heat was computed (a lower bound is not one). */
function publishHeat(assessment: HeatAssessment, metrics: HeatGateMetrics, config: HeatGateConfig): void {
  if (!assessment.trusted || assessment.lowerBound !== undefined) return;
  const bucket = bucketOf(assessment.heat, config.HEAT_MIN, config.HEAT_MAX);
  metrics.heatValue.set(assessment.heat);
  for (const state of BUCKETS) metrics.bucket.set(BUCKET_LABELS[state], state === bucket ? 1 : 0);
  metrics.positionsWithoutSigma.set(assessment.withoutSigma.length);
  metrics.notionalWithoutSigma.set(assessment.withoutSigma.reduce((sum, p) => sum + Math.abs(p.notionalUsd), 0));
}

/**
 * The plan_id a decision carries: the entry's own, else (a kernel proposal) the one the Apply
 * Layer derives from the proposal hash, with the action it will read there: the calibrated one
 * once enforce mode wrote it, else the kernel's. Without a kill_score the Apply Layer makes no
 * plan, and the id is ours: `p26:{entry id}`.
 */
function planIdOf(proposal: HarvestProposal, calibratedAction: string, ctx: Ctx): string {
  if (proposal.plan_id !== undefined) return proposal.plan_id;
  const action = ctx.config.P26_MODE === 'enforce' ? calibratedAction : proposal.proposedAction;
  return applyLayerPlanId(proposal.symbol, action, proposal) ?? `p26:${ctx.meta.id}`;
}

function record(
  proposal: HarvestProposal,
  assessment: HeatAssessment,
  ctx: Ctx,
  atDecision?: { mark: DecisionMark | null | undefined; positionUsd: number | undefined },
  /** The calibration decide() made of this proposal and assessment (the same, not made twice). */
  decided = calibrationOf(proposal, assessment, ctx.config),
): void {
  const { config, metrics } = ctx;
  const { bucket, calibration } = decided;
  const carried = carriedFields(ctx.meta.raw);
  for (let i = 0; i < carried.cut.length; i++) metrics.truncatedFields.inc();
  // The original: `data.get(b"trace_id", uuid4())`, a new id only when the field is absent.
  const traceId = proposal.trace_id === undefined ? randomUUID() : proposal.trace_id.slice(0, FREE_TEXT_MAX);
  const facts: DecisionFacts = {
    traceId,
    planId: planIdOf(proposal, calibration.calibratedAction, ctx),
    symbol: proposal.symbol,
    action: proposal.proposedAction,
    bucket,
    assessment,
    calibration,
    mode: config.P26_MODE,
    nowMs: ctx.now(),
    heatMin: config.HEAT_MIN,
    heatMax: config.HEAT_MAX,
    sourceId: ctx.meta.id,
    // Spread only for a decision that changed the action: no empty object per message otherwise.
    ...(atDecision !== undefined && atDecision.mark !== undefined
      ? { atDecision: { mark: atDecision.mark, positionUsd: atDecision.positionUsd } }
      : undefined),
  };

  ctx.emit(config.P26_OUTPUT_STREAM, calibratedEntry(facts, carried));
  ctx.emit(config.P26_DECISION_STREAM, heatDecisionEntry(facts));
  const heatValue = assessment.trusted ? pyFloatStr(assessment.heat) : '0.0';
  ctx.put(keys.portfolioHeat, { heat: heatValue, bucket, updated_at: String(facts.nowMs) }, { latestWins: true });

  if (config.P26_MODE === 'enforce') {
    // Newest wins: the hash holds the calibration of the newest proposal of its symbol, with one
    // replica or several; an older proposal handled later is acknowledged unapplied.
    ctx.onlyIfNewer(keys.harvestProposalSourceId(proposal.symbol), ctx.meta.id, { onSkip: () => metrics.superseded.inc() });
    ctx.put(keys.harvestProposal(proposal.symbol), enforceHash(facts, carried, config.P26_APPLY_LAYER_ERA), {
      ttlSec: config.P26_PROPOSAL_TTL_SEC,
      onFail: () => metrics.hashWriteFailures.inc(),
    });
    metrics.hashWrites.inc();
  }

  metrics.processed.inc();
  if (calibration.downgraded) {
    metrics.downgraded.inc({ from_action: proposal.proposedAction, to_action: calibration.calibratedAction, reason: calibration.reason });
    ctx.log.info(
      { from: proposal.proposedAction, to: calibration.calibratedAction, heat: heatValue, bucket, mode: config.P26_MODE },
      'DOWNGRADE',
    );
  }
  if (assessment.trusted && assessment.lowerBound !== undefined)
    ctx.log.warn(
      { cause: assessment.lowerBound.cause, heat_at_least: heatValue, untrusted: assessment.lowerBound.untrusted.slice(0, 10) },
      'heat not trusted, but the figures trusted already prove HOT: decided HOT on that lower bound',
    );
  if (!assessment.trusted) {
    metrics.failures.inc({ reason: failureLabelOf[assessment.cause] });
    metrics.failClosed.inc({ cause: assessment.cause });
    ctx.log.warn({ cause: assessment.cause, untrusted: assessment.untrusted.slice(0, 10) }, 'heat not trusted: FAIL-CLOSED (COLD)');
  }
}
