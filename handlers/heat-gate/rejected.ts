import { randomUUID } from 'node:crypto';
import type { HandlerContext } from '../../runtime/contract/index.js';
import { FREE_TEXT_MAX, proposalSymbolSchema } from '../../schemas/harvest-proposal.js';
import { compareStreamIds } from '../../schemas/fields.js';
import { keys } from '../../schemas/keys.js';
import { calibrate } from './calibrate.js';
import type { HeatGateConfig } from './config.js';
import type { HeatGateMetrics } from './metrics.js';
import { enforceHash } from './outputs.js';

/**
 * Enforce mode, a proposal the gate cannot accept (dead-lettered: no plan_id, no action, a
 * malformed symbol, or delivered too often; or, acknowledged without a dead letter, an entry
 * without any action): the kernel's quantum:harvest:proposal:{symbol} is
 * still calibrated as COLD, fail-closed, so the Apply Layer never acts on a proposal the gate did
 * not check. The action is the entry's own, else the hash's `harvest_action`; with neither there
 * is nothing to act on (the Apply Layer skips a proposal without harvest_action) and nothing is
 * written. Only the gate's eleven fields are set; nothing else of a refused entry is copied.
 */
export async function safeFormOfRejected(
  raw: Readonly<Record<string, string>>,
  ctx: HandlerContext<HeatGateConfig, undefined, HeatGateMetrics>,
  /**
   * How newest-wins is kept: `in-commit` (onlyIfNewer, for an entry acknowledged without a dead
   * letter) or `at-read` (for a dead letter, which a superseded commit would drop with the
   * write: the source id is compared when the entry is read, so a newer calibration committed
   * in between can still be overwritten by this COLD one).
   */
  newestWins: 'in-commit' | 'at-read',
): Promise<void> {
  const { config, metrics } = ctx;
  if (config.P26_MODE !== 'enforce') return;
  const symbol = proposalSymbolSchema.safeParse(raw.symbol);
  if (!symbol.success) return; // no hash this entry could be about
  const key = keys.harvestProposal(symbol.data);
  const sourceKey = keys.harvestProposalSourceId(symbol.data);
  if (newestWins === 'at-read') {
    const applied = await ctx.redis.get(sourceKey);
    if (applied !== null && compareStreamIds(applied, ctx.meta.id) > 0) {
      metrics.superseded.inc();
      return;
    }
  }
  const action = raw.harvest_action || raw.action || ((await ctx.redis.hget(key, 'harvest_action')) ?? '');
  if (action === '') return;
  const calibration = calibrate(action, 'COLD', config.P26_APPLY_LAYER_ERA);
  const hash = enforceHash(
    {
      traceId: raw.trace_id === undefined ? randomUUID() : raw.trace_id.slice(0, FREE_TEXT_MAX),
      planId: (raw.plan_id ?? '').slice(0, FREE_TEXT_MAX),
      symbol: symbol.data,
      action,
      bucket: 'COLD',
      assessment: { trusted: false, cause: 'invalid_input', untrusted: [] },
      calibration,
      mode: config.P26_MODE,
      nowMs: ctx.now(),
      heatMin: config.HEAT_MIN,
      heatMax: config.HEAT_MAX,
      sourceId: ctx.meta.id,
    },
    undefined,
    config.P26_APPLY_LAYER_ERA,
  );
  // Newest wins, as for a decided proposal: never over the calibration of a newer entry.
  if (newestWins === 'in-commit') ctx.onlyIfNewer(sourceKey, ctx.meta.id, { onSkip: () => metrics.superseded.inc() });
  ctx.put(key, hash, { ttlSec: config.P26_PROPOSAL_TTL_SEC, onFail: () => metrics.hashWriteFailures.inc() });
  metrics.hashWrites.inc();
  metrics.failClosed.inc({ cause: 'invalid_input' });
  ctx.log.warn(
    { symbol: symbol.data, action, calibrated: calibration.calibratedAction },
    'rejected proposal: hash left in its safe form (COLD)',
  );
}
