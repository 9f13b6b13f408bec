import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { bucketOf } from '../../handlers/positions/heat.js';
import { pyFloatStr, pythonRound } from '../../schemas/python-number.js';
import type { Runtime } from '../../runtime/host/runtime.js';
import { keys, streams } from '../../schemas/keys.js';
import { usePrivateRedis } from '../support/redis-server.js';
import { startRuntime } from '../support/runtime.js';
import { untilStream } from '../support/until.js';

const SYMBOLS = ['AUSDT', 'BUSDT', 'CUSDT'] as const;

type Step =
  | { readonly kind: 'snapshot'; readonly symbol: string; readonly notional: number; readonly sigma: number }
  | { readonly kind: 'portfolio'; readonly equity: number }
  | { readonly kind: 'proposal' };

const step: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('snapshot' as const),
      symbol: fc.constantFrom(...SYMBOLS),
      notional: fc.constantFrom(0, 1000, 5000, -8000, 20000),
      sigma: fc.constantFrom(0.1, 0.3),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('portfolio' as const), equity: fc.constantFrom(2000, 10000, 40000) }) },
  { weight: 3, arbitrary: fc.constant({ kind: 'proposal' as const }) },
);

/** The decision the streams' prefix calls for: latest snapshot per symbol, latest equity. */
function expected(positions: ReadonlyMap<string, { notional: number; sigma: number }>, equity: number): { bucket: string; heat: string } {
  let weighted = 0;
  for (const symbol of [...positions.keys()].sort()) {
    const p = positions.get(symbol)!;
    if (p.notional !== 0) weighted += Math.abs(p.notional) * p.sigma;
  }
  const heat = weighted / Math.max(equity, 1);
  // The decision stream as the original writes it: heat_level lower case, heat_score round(heat, 4).
  return { bucket: bucketOf(heat, 0.25, 0.65).toLowerCase(), heat: pyFloatStr(pythonRound(heat, 4)) };
}

/**
 * Issue #10 item 4: random interleavings of snapshots, portfolio updates and proposals through
 * one to three runtime replicas. The driver writes nothing more until each proposal's decision is
 * out, so that decision must equal the one computed from everything written before it.
 */
describe('positions: every decision sees every snapshot written before its proposal', () => {
  const redis = usePrivateRedis();

  it('equals the decision computed from the streams’ prefix, for any interleaving and 1–3 replicas', async () => {
    let run = 0;
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 3 }), fc.array(step, { minLength: 1, maxLength: 25 }), async (replicas, steps) => {
        run += 1;
        const r = redis.client;
        await r.flushall();
        await r.hset(keys.portfolioState, 'equity_usd', '10000');
        const runtimes: Runtime[] = [];
        try {
          for (let i = 0; i < replicas; i++) runtimes.push(await startRuntime(redis.url, { HANDLERS: 'position-snapshot,heat-gate' }));
          const positions = new Map<string, { notional: number; sigma: number }>();
          let equity = 10000;
          let proposals = 0;
          for (const s of steps) {
            if (s.kind === 'snapshot') {
              await r.xadd(
                streams.positionSnapshot,
                '*',
                'symbol',
                s.symbol,
                'position_notional_usd',
                String(s.notional),
                'sigma',
                String(s.sigma),
              );
              positions.set(s.symbol, { notional: s.notional, sigma: s.sigma });
            } else if (s.kind === 'portfolio') {
              await r.hset(keys.portfolioState, 'equity_usd', String(s.equity));
              equity = s.equity;
            } else {
              const planId = `r${run}-p${proposals++}`;
              await r.xadd(streams.harvestProposal, '*', 'plan_id', planId, 'symbol', 'AUSDT', 'action', 'FULL_CLOSE');
              const decision = await untilStream(
                r,
                streams.heatDecision,
                (entries) => {
                  const last = entries.at(-1);
                  return last?.plan_id === planId ? last : undefined;
                },
                { what: `decision for ${planId}` },
              );
              const got = { bucket: decision.heat_level, heat: decision.heat_score };

              expect({ planId, ...got }).toEqual({ planId, ...expected(positions, equity) });
            }
          }
        } finally {
          await Promise.all(runtimes.map((runtime) => runtime.stop()));
        }
      }),
      // Each run starts its replicas afresh: a few runs keep this well under a minute.
      { numRuns: 25 },
    );
  });
});
