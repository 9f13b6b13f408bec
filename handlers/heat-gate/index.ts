import { defineHandler, metricsAsHealth, type HandlerContext } from '../../runtime/handler.js';
import { harvestProposalSchema, type HarvestProposal } from '../../schemas/harvest-proposal.js';
import { keys } from '../../schemas/keys.js';
import { calibrate, type Calibration } from './calibrate.js';
import { parseHeatGateConfig, type HeatGateConfig } from './config.js';
import { bucketOf, computeHeat, loadHeatInputs, type HeatBucket, type HeatInputs } from './heat.js';
import { heatGateMetrics, type HeatGateMetrics } from './metrics.js';
import { readP33Position } from '../positions/book.js';

type Ctx = HandlerContext<HeatGateConfig, HeatInputs | undefined, HeatGateMetrics>;

const BUCKETS = ['COLD', 'WARM', 'HOT'] as const;
const BUCKET_LABELS = { COLD: { state: 'COLD' }, WARM: { state: 'WARM' }, HOT: { state: 'HOT' } } as const;

/** Fields the gate writes itself; a proposal's own fields of these names are not carried. */
const ownFields = new Set(['action', 'harvest_action', 'proposedAction']);

interface Decision {
  readonly heat: number;
  readonly bucket: HeatBucket;
  readonly calibration: Calibration;
}

/**
 * P2.6 Portfolio Heat Gate: calibrates FULL_CLOSE proposals by portfolio heat. Always writes the
 * calibrated entry and a heat decision for the bridge; in enforce mode also overwrites the
 * proposal hash the Apply Layer reads.
 */
export const heatGate = defineHandler({
  name: 'heat-gate',
  description: 'P2.6 portfolio heat gate: FULL_CLOSE → PARTIAL_25/75 by heat bucket',
  trigger: { kind: 'stream', stream: (c: HeatGateConfig) => c.P26_INPUT_STREAM, group: (c: HeatGateConfig) => c.P26_GROUP },
  input: harvestProposalSchema,
  config: parseHeatGateConfig,
  metrics: heatGateMetrics,
  mode: (config) => config.P26_MODE,
  onStart: (config, metrics) => metrics.enforceMode.set(config.P26_MODE === 'enforce' ? 1 : 0),
  // prometheus_client's start_http_server (P26_METRICS_PORT) answered every path with the metrics.
  health: metricsAsHealth,
  loadBatchState: (redis, config) => loadHeatInputs(redis, config),
  // Heat comes from positions and equity, which other services write; the gate's own writes
  // (outputs, the heat hash, proposal hashes in enforce mode) are never read back.
  readsOwnWrites: false,
  failure: {
    maxAttempts: 3,
    backoffMs: 25,
    // Fail-closed: an error is treated as COLD, so FULL_CLOSE becomes PARTIAL_25.
    policy: 'fail-closed',
    fallback: (proposal, _failure, ctx) => {
      const calibration = calibrate(proposal.proposedAction, 'COLD', 'heat_gate_error');
      record(proposal, { heat: 0, bucket: 'COLD', calibration }, ctx);
    },
  },
  handle(proposal, ctx) {
    const inputs = ctx.state!;
    if (inputs.streamRead === 'tail') ctx.metrics.positionBookFallback.inc({ cause: 'no_group' });
    if (inputs.truncated) ctx.metrics.positionBookFallback.inc({ cause: 'truncated' });
    if (inputs.symbols?.has(proposal.symbol) !== false) return decide(proposal, inputs, ctx);
    // The proposal's own symbol is not in the book: the Position Ledger may hold it already and
    // the index of its hashes not know yet. Read it directly rather than wait for the index.
    return readP33Position(ctx.redis, proposal.symbol).then((direct) =>
      decide(proposal, direct === undefined ? inputs : { ...inputs, positions: [...inputs.positions, direct] }, ctx),
    );
  },
});

function decide(proposal: HarvestProposal, inputs: HeatInputs, ctx: Ctx): void {
  const result = computeHeat(inputs);
  const bucket = bucketOf(result.heat, ctx.config.HEAT_MIN, ctx.config.HEAT_MAX);
  const calibration = calibrate(proposal.proposedAction, bucket, result.problem);
  record(proposal, { heat: result.heat, bucket: result.problem ? 'COLD' : bucket, calibration }, ctx);
  ctx.metrics.heatValue.set(result.heat);
}

function record(proposal: HarvestProposal, decision: Decision, ctx: Ctx): void {
  const { config, metrics } = ctx;
  const { calibration, heat, bucket } = decision;
  const nowMs = ctx.now();
  const timestamp = String(Math.floor(nowMs / 1000));
  const heatValue = String(round(heat));

  // The proposal's other fields travel along; the gate's own fields are set after, so they win.
  const calibrated: Record<string, string> = {};
  const raw = ctx.meta.raw;
  for (const field in raw) if (!ownFields.has(field)) calibrated[field] = raw[field]!;
  calibrated.trace_id = proposal.trace_id ?? '';
  calibrated.plan_id = proposal.plan_id;
  calibrated.symbol = proposal.symbol;
  calibrated.original_action = proposal.proposedAction;
  calibrated.calibrated_action = calibration.calibratedAction;
  calibrated.heat_value = heatValue;
  calibrated.heat_bucket = bucket;
  calibrated.mode = config.P26_MODE;
  calibrated.calibrated = calibration.downgraded ? 'true' : 'false';
  calibrated.reason = calibration.reason;
  calibrated.timestamp = timestamp;
  ctx.emit(config.P26_OUTPUT_STREAM, calibrated);

  ctx.emit(config.P26_DECISION_STREAM, {
    ts_epoch: timestamp,
    symbol: proposal.symbol,
    plan_id: proposal.plan_id,
    in_action: proposal.proposedAction,
    out_action: calibration.calibratedAction,
    heat_level: bucket,
    heat_score: heatValue,
    heat_action: calibration.heatAction,
    recommended_partial: calibration.recommendedPartial === undefined ? '' : String(calibration.recommendedPartial),
    reason: calibration.reason,
    mode: config.P26_MODE,
    debug_json: JSON.stringify({ trace_id: proposal.trace_id ?? '', source_id: ctx.meta.id, heat_min: config.HEAT_MIN, heat_max: config.HEAT_MAX }),
  });

  ctx.putHash(keys.portfolioHeat, { heat: heatValue, bucket, updated_at: String(nowMs) }, { latestWins: true });

  if (config.P26_MODE === 'enforce') {
    const proposalFields: Record<string, string> = { ...ctx.meta.raw, action: calibration.calibratedAction };
    if ('harvest_action' in ctx.meta.raw) proposalFields.harvest_action = calibration.calibratedAction;
    ctx.putHash(
      keys.harvestProposal(proposal.symbol),
      { ...proposalFields, original_action: proposal.proposedAction, heat_bucket: bucket, heat_value: heatValue, calibrated_by: 'p26', reason: calibration.reason, timestamp },
      { ttlSec: config.P26_PROPOSAL_TTL_SEC, replace: true, onFail: () => metrics.hashWriteFailures.inc() },
    );
    metrics.hashWrites.inc();
  }

  metrics.processed.inc();
  metrics.streamLag.set(Math.max(0, nowMs - ctx.meta.producedAt));
  for (const state of BUCKETS) metrics.bucket.set(BUCKET_LABELS[state], state === bucket ? 1 : 0);
  if (calibration.downgraded) {
    metrics.downgraded.inc({ from_action: proposal.proposedAction, to_action: calibration.calibratedAction, reason: calibration.reason });
  }
  if (calibration.reason === 'missing_portfolio_state' || calibration.reason === 'invalid_equity' || calibration.reason === 'heat_gate_error') {
    metrics.failures.inc({ reason: calibration.reason });
  }
  if (calibration.downgraded) {
    ctx.log.info({ from: proposal.proposedAction, to: calibration.calibratedAction, heat: heatValue, bucket, mode: config.P26_MODE }, 'DOWNGRADE');
  }
}

function round(value: number): number {
  return Math.round(value * 1e6) / 1e6;
}
