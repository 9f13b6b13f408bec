import { describe, expect, it } from 'vitest';
import { governor } from '../../handlers/governor/index.js';
import { shadowDecisionsKey } from '../../app/shadow/namespace.js';
import { pythonServices } from '../../cli/shadow/python.js';
import { shadowReport } from '../../cli/shadow/report.js';
import { systemClock } from '../../runtime/host/index.js';
import { keys, streams } from '../../schemas/keys.js';
import { usePrivateRedis } from '../support/redis-server.js';
import { useShadowHosts } from '../support/shadow-host.js';
import { waitFor } from '../support/runtime.js';
import { P33_NEWEST_TTL_SEC, p33NewestHash } from '../support/book-producers.js';
import { pythonBlock, pythonPermit } from '../support/python-incumbent.js';

describe('the shadow beside the Python governor, read from its permit and block keys', () => {
  const redis = usePrivateRedis();
  const startShadow = useShadowHosts();

  it('pairs by plan_id: the same verdicts, a documented stricter block (open pricing), an unexplained one named, one the original has not decided', async () => {
    const r = redis.client;
    // The Python governor's own group on the plans stream (upstream reads it with XREADGROUP).
    await r.xgroup('CREATE', streams.applyPlan, 'governor', '$', 'MKSTREAM');
    await startShadow({ base: r, handlers: [governor], env: {}, host: systemClock, consumer: 'shadow-py', blockMs: 100 });
    // The book as the Python era's producers leave it: equity, P3.3's hashes (positions), market marks.
    const nowSec = Number((await r.time())[0]);
    await r.hset(keys.portfolioState, 'equity_usd', '10000', 'timestamp', String(nowSec));
    for (const [symbol, amt, mark] of [
      ['BTCUSDT', 0.02, 90000],
      ['ETHUSDT', 0.3, 3000],
      ['XRPUSDT', 100, 3],
    ] as const) {
      await r.hset(keys.p33StatePositions(symbol), p33NewestHash(symbol, amt, mark, nowSec));
      await r.expire(keys.p33StatePositions(symbol), P33_NEWEST_TTL_SEC);
    }
    for (const [symbol, price] of [
      ['SOLUSDT', '150'],
      ['BNBUSDT', '600'],
      ['BTCUSDT', '90000'],
      ['ETHUSDT', '3000'],
      ['XRPUSDT', '3'],
    ] as const)
      await r.hset(keys.marketState(symbol), 'mark_price', price, 'sigma', '0.2');
    const plans: Record<string, string>[] = [
      { plan_id: 'py-close', symbol: 'BTCUSDT', action: 'PARTIAL_75', side: 'SELL', qty: '0.01' },
      // Priced at 100 where the market's mark is 150: ours blocks (plan_price_mismatch), the original priced it as given.
      { plan_id: 'py-price', symbol: 'SOLUSDT', action: 'ENTRY_PROPOSED', side: 'BUY', qty: '1', price: '100' },
      { plan_id: 'py-big', symbol: 'BNBUSDT', action: 'ENTRY_PROPOSED', side: 'BUY', qty: '10', price: '600' },
      { plan_id: 'py-later', symbol: 'SOLUSDT', action: 'ENTRY_PROPOSED', side: 'BUY', qty: '1', price: '150' },
    ];
    for (const plan of plans) await r.xadd(streams.applyPlan, '*', ...Object.entries({ decision: 'EXECUTE', ...plan }).flat());
    await waitFor(async () => (await r.xlen(shadowDecisionsKey('governor'))) === 4, { what: 'the shadow decided the plans' });
    // What the Python governor decided: the close and the mispriced open permitted; the $6,000 open
    // permitted too (planted: a difference nothing documents); py-later not yet.
    await pythonPermit(r, 'py-close', 'BTCUSDT');
    await pythonPermit(r, 'py-price', 'SOLUSDT');
    await pythonPermit(r, 'py-big', 'BNBUSDT');

    const report = await shadowReport(r, pythonServices(r), { graceMs: 0 }, Date.now());
    expect(report).toMatchObject({ incumbent: 'python', compared: 3, same: 1, documented: 1, unexplained: 1, unpaired: 1 });
    const byPlan = Object.fromEntries(report.pairs.map((p) => [p.label, [p.class, p.incumbent, p.shadow, p.row]]));
    expect(byPlan).toEqual({
      'py-close': ['same', 'event=permit', 'event=permit', undefined],
      'py-price': ['documented', 'event=permit', 'event=block reason=plan_price_mismatch', 'governor open pricing (testnet)'],
      'py-big': ['unexplained', 'event=permit', 'event=block reason=notional_per_trade_exceeded', undefined],
    });
    expect(report.unpairedInputs.map((u) => [u.label, u.decidedBy])).toEqual([['py-later', 'shadow']]);

    // Once the original decides it, its record pairs: a block is read with its reason.
    await pythonBlock(r, 'py-later', 'SOLUSDT', 'symbol_cooldown');
    const later = await shadowReport(r, pythonServices(r), { graceMs: 0 }, Date.now());
    expect(later.pairs.find((p) => p.label === 'py-later')).toMatchObject({
      class: 'unexplained',
      incumbent: 'event=block reason=symbol_cooldown',
      shadow: 'event=permit',
    });
  });
});
