import type { Redis } from 'ioredis';
import { keys, streams } from '../../schemas/keys.js';
import { untilKeys } from './until.js';

/**
 * One realistic round of the pipeline's traffic for the shadow's tests: a book (equity and three
 * positions through the snapshot stream), heat-gate proposals (closes of each size, one PARTIAL
 * passing unchanged) and governor plans (closes bypassing the caps, opens within and over them,
 * one open repeated). `planIds` and `proposalIds` are what the gates decide, in order.
 */
export const trafficPlanIds = ['close-btc', 'close-eth', 'open-sol', 'open-bnb-big', 'open-sol'];
export const trafficProposalIds = ['prop-1', 'prop-2', 'prop-3', 'prop-4'];

export async function seedBook(r: Redis): Promise<void> {
  await r.hset(keys.portfolioState, 'equity_usd', '10000');
  const book = { BTCUSDT: ['1800', '0.15'], ETHUSDT: ['900', '0.3'], XRPUSDT: ['300', '0.2'] };
  for (const [symbol, [notional, sigma]] of Object.entries(book))
    await r.xadd(streams.positionSnapshot, '*', 'symbol', symbol, 'position_notional_usd', notional!, 'sigma', sigma!);
  await untilKeys(r, [keys.activePositions], async () => (await r.scard(keys.activePositions)) === 3, { what: 'three positions' });
  for (const [symbol, price] of [
    ['SOLUSDT', '150'],
    ['BNBUSDT', '600'],
    ['BTCUSDT', '90000'],
    ['ETHUSDT', '3000'],
  ] as const)
    await r.hset(keys.marketState(symbol), 'mark_price', price, 'sigma', '0.2');
}

export async function sendTraffic(r: Redis): Promise<void> {
  const proposals: [string, string, string][] = [
    ['prop-1', 'BTCUSDT', 'FULL_CLOSE'],
    ['prop-2', 'ETHUSDT', 'PARTIAL_50'],
    ['prop-3', 'XRPUSDT', 'FULL_CLOSE'],
    ['prop-4', 'BTCUSDT', 'PARTIAL_25'],
  ];
  for (const [planId, symbol, action] of proposals)
    await r.xadd(streams.harvestProposal, '*', 'plan_id', planId, 'symbol', symbol, 'action', action);
  const plans: Record<string, string>[] = [
    { plan_id: 'close-btc', symbol: 'BTCUSDT', action: 'PARTIAL_75', side: 'SELL', qty: '0.01' },
    { plan_id: 'close-eth', symbol: 'ETHUSDT', action: 'FULL_CLOSE_PROPOSED', side: 'SELL', qty: '0.3' },
    { plan_id: 'open-sol', symbol: 'SOLUSDT', action: 'ENTRY_PROPOSED', side: 'BUY', qty: '1', price: '150' },
    { plan_id: 'open-bnb-big', symbol: 'BNBUSDT', action: 'ENTRY_PROPOSED', side: 'BUY', qty: '10', price: '600' },
    { plan_id: 'open-sol', symbol: 'SOLUSDT', action: 'ENTRY_PROPOSED', side: 'BUY', qty: '1', price: '150' },
  ];
  for (const plan of plans) await r.xadd(streams.applyPlan, '*', ...Object.entries({ decision: 'EXECUTE', ...plan }).flat());
}
